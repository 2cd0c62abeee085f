"""Re-sealing frames under the primary key (the last step of a key rotation)."""

from __future__ import annotations

from ..errors import FrameError, PolicyError
from .keyring import Keyring
from .signing import SIGNATURE_SIZE, Signer, Verifier
from .wire import (
    FLAG_ENCRYPTED,
    FLAG_SIGNED,
    H_KEY_ID,
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
    flags, h, off = parse_frame(frame, limits)
    primary = keyring._primary_for_seal()
    if not flags & FLAG_ENCRYPTED or h[H_KEY_ID] == primary.key_id:
        return frame
    end = len(frame)
    if flags & FLAG_SIGNED:
        if signer is None:
            raise PolicyError("cannot rotate a signed frame without a signer")
        end -= SIGNATURE_SIZE
        if end < off:
            raise FrameError("truncated frame")
        if verifier is not None:
            verifier.verify(
                h[H_SIGNER],
                frame[end:],
                signature_input(channel, frame[:end]),
                channel=channel_name,
            )
        h[H_SIGNER] = signer.signer_id
    plain = keyring._open(h[H_KEY_ID], frame[off:end], frame[:off] + channel)
    h[H_KEY_ID] = primary.key_id
    head = build_head(flags, h, limits)
    out = head + keyring._seal(primary, plain, head + channel)
    if signer is not None and flags & FLAG_SIGNED:
        out += signer.sign(signature_input(channel, out))
    return out
