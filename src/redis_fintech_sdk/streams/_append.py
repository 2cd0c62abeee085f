"""What one append did: :class:`AppendResult`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AppendResult"]


@dataclass(frozen=True, slots=True)
class AppendResult:
    """The outcome of one idempotent append (``StreamProducer.append``).

    Attributes:
        entry_id: the stream entry that holds the message: the new one, or for a duplicate
            the one added earlier under the same idempotency id.
        duplicate: ``True`` when the server already held the idempotency id, so nothing
            was added; ``False`` when this call added the entry (always ``False`` for a
            non-idempotent producer); ``None`` when the server does not say (``XADD IDMP``
            on Redis 8.6+ returns the existing id without a flag).
        attempts: round trips this call took (1 + retries). With ``duplicate`` true and
            ``attempts > 1`` the earlier entry may be this call's own first attempt, whose
            reply was lost: treat that as "added", not as "somebody else added it".
    """

    entry_id: str
    duplicate: bool | None
    attempts: int

    @property
    def added_by_this_call(self) -> bool | None:
        """Whether this call (any of its attempts) created the entry; ``None`` if unknown.

        ``False`` only when the first attempt already found the id (an earlier call, or
        another process, added it); ``None`` for a duplicate found on a retry, or when the
        server does not say.
        """
        if self.duplicate is None:
            return None
        if not self.duplicate:
            return True
        return False if self.attempts == 1 else None
