"""Client-side caching: :class:`AsyncNearCache`, a read cache invalidated by the server.

Redis 6+ ``CLIENT TRACKING`` in broadcast mode tells the cache about every write to a
tracked key prefix, by any client, so reference data can be read from process memory and
still never be served stale for longer than an invalidation takes to arrive. See
``docs/caching.md``.
"""

from ._near import AsyncNearCache, NearCacheStatistics

__all__ = ["AsyncNearCache", "NearCacheStatistics"]
