"""Re-sealing frames under the primary key (the last step of a key rotation)."""

from __future__ import annotations

from ..errors import FrameError, PolicyError
from .keyring import Keyring
from .signing import SIGNATURE_SIZE, Signer, Verifier
from .wire import (
    FLAG_ENCRYPTED,
    FLAG_SIGNED,
    H_SIGNER,
    Limits,
    build_head,
    parse_frame,
    signature_input,
)

__all__ = ["reseal"]


def reseal(
    frame: bytes,
    *,
    channel: bytes,
    channel_name: str,
    keyring: Keyring | None,
    signer: Signer | None,
    verifier: Verifier | None,
    limits: Limits,
) -> bytes:
    """Return ``frame`` sealed under the primary key (see :meth:`Codec.rotate`).

    Raises:
        PolicyError: no keyring, or a signed frame and no signer to re-sign it.
        CodecError: the frame does not parse, verify or authenticate.
    """
    if keyring is None:
        raise PolicyError("rotate needs a keyring")
    flags, fields, ext, off = parse_frame(frame, limits)
    primary = keyring._primary_for_seal()
    key_id = fields[6]
    if key_id is None or key_id == primary.key_id:
        return frame
    end = len(frame)
    if flags & FLAG_SIGNED:
        assert ext is not None  # parse_frame guarantees the signer id of a signed frame
        if signer is None:
            raise PolicyError("cannot rotate a signed frame without a signer")
        end -= SIGNATURE_SIZE
        if end < off:
            raise FrameError("truncated frame")
        if verifier is not None:
            verifier.verify(
                ext[H_SIGNER],
                frame[end:],
                signature_input(channel, frame[:end]),
                channel=channel_name,
            )
        ext = dict(ext)
        ext[H_SIGNER] = signer.signer_id
    plain = keyring._open(key_id, frame, off, end, frame[:off] + channel)
    head = build_head(flags | FLAG_ENCRYPTED, fields, ext, primary.key_id, limits)
    out = head + keyring._seal(primary, plain, head + channel)
    if signer is not None and flags & FLAG_SIGNED:
        out += signer.sign(signature_input(channel, out))
    return out
