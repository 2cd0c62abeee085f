"""Sans-I/O codec: typed messages, envelopes, wire format v1, compression and AEAD.

Never imports redis. See ``docs/wire-format.md``, ``docs/messages.md`` and
``docs/encryption.md``.
"""

from __future__ import annotations

from .codec import Codec
from .compression import train_dictionary
from .config import CodecConfig
from .envelope import Envelope, FrameHeader
from .ids import MessageIdGenerator, message_id_time_ns, new_message_id
from .keyring import Keyring, KeyringStatistics, KeyStatus, KeyUsageWarning
from .keysources import (
    KmsHook,
    LocalKek,
    keyring_from_env,
    keyring_from_file,
    keyring_from_json,
    keyring_to_json,
)
from .messages import (
    Classification,
    Message,
    MessageRegistry,
    MessageSpec,
    Upcaster,
    default_registry,
    message,
    upcaster,
)
from .serializers import JSON, MSGPACK, JsonSerializer, MsgPackSerializer, Serializer
from .signing import Signer, Verifier
from .stats import CodecStatistics
from .types import ISO_4217, Amount, CurrencyCode, Money, Sensitive, SensitiveStr, Timestamp
from .wire import FORMAT_VERSION, MAGIC

__all__ = [
    "Amount",
    "Classification",
    "Codec",
    "CodecConfig",
    "CodecStatistics",
    "CurrencyCode",
    "Envelope",
    "FORMAT_VERSION",
    "FrameHeader",
    "ISO_4217",
    "JSON",
    "JsonSerializer",
    "KeyStatus",
    "KeyUsageWarning",
    "Keyring",
    "KeyringStatistics",
    "KmsHook",
    "LocalKek",
    "MAGIC",
    "MSGPACK",
    "Message",
    "MessageIdGenerator",
    "MessageRegistry",
    "MessageSpec",
    "Money",
    "MsgPackSerializer",
    "Sensitive",
    "SensitiveStr",
    "Serializer",
    "Signer",
    "Timestamp",
    "Upcaster",
    "Verifier",
    "default_registry",
    "keyring_from_env",
    "keyring_from_file",
    "keyring_from_json",
    "keyring_to_json",
    "message",
    "message_id_time_ns",
    "new_message_id",
    "train_dictionary",
    "upcaster",
]
