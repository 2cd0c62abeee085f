"""Lua scripts of the Streams layer.

Every key a script touches is passed in ``KEYS`` and shares the stream's hash slot (see
:mod:`._keys`), so the scripts run on a cluster too.
"""

from __future__ import annotations

__all__ = [
    "DEAD_LETTER",
    "EXACTLY_ONCE_COMMIT",
    "IDEMPOTENT_XADD",
    "LENGTH_CUT",
    "REPLAY",
    "SAFE_DELCONSUMER",
]

# KEYS: stream, dedup hash (iid -> entry id), dedup zset (iid by insertion time, ms)
# ARGV: iid, window_ms, max_ids, field, frame, n_trim, trim args...
# Returns {1, id} for a new entry, {0, id} when this iid was already appended.
# A duplicate still writes (it renews the dedup keys' expiry): WAIT counts acknowledgements
# of the calling connection's last write, and a retry may run on another connection than
# the original append. Without a write here, a retry's WAIT would confirm an append no
# replica has received yet.
IDEMPOTENT_XADD = """
local known = redis.call('HGET', KEYS[2], ARGV[1])
if known then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[2])
  return {0, known}
end
local xa = {'XADD', KEYS[1]}
local ntrim = tonumber(ARGV[6])
for i = 1, ntrim do xa[#xa + 1] = ARGV[6 + i] end
xa[#xa + 1] = '*'
xa[#xa + 1] = ARGV[4]
xa[#xa + 1] = ARGV[5]
local id = redis.call(unpack(xa))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('ZADD', KEYS[3], now, ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - window, 'LIMIT', 0, 128)
if #old > 0 then
  redis.call('HDEL', KEYS[2], unpack(old))
  redis.call('ZREM', KEYS[3], unpack(old))
end
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[3])
if excess > 0 then
  local extra = redis.call('ZRANGE', KEYS[3], 0, excess - 1)
  redis.call('HDEL', KEYS[2], unpack(extra))
  redis.call('ZREM', KEYS[3], unpack(extra))
end
redis.call('PEXPIRE', KEYS[2], window)
redis.call('PEXPIRE', KEYS[3], window)
return {1, id}
"""

# KEYS: stream, dead-letter stream
# ARGV: group, entry id, field1, value1, ...
# Acks the entry and, only if it was still pending, appends the dead letter: a retried call
# after a lost reply cannot write a second dead letter.
DEAD_LETTER = """
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 1 then
  local xa = {'XADD', KEYS[2], '*'}
  for i = 3, #ARGV do xa[#xa + 1] = ARGV[i] end
  redis.call(unpack(xa))
end
return acked
"""

# KEYS: dead-letter stream, target stream
# ARGV: dead-letter id, frame field
# Returns the new entry id, false when the dead letter is gone, -1 when it has no frame.
REPLAY = """
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return false end
local fields = e[1][2]
for i = 1, #fields, 2 do
  if fields[i] == ARGV[2] then
    local id = redis.call('XADD', KEYS[2], '*', ARGV[2], fields[i + 1])
    redis.call('XDEL', KEYS[1], ARGV[1])
    return id
  end
end
return -1
"""

# KEYS: stream, processed marker, effect keys...
# ARGV: group, entry id, marker ttl ms, n commands, (n args, args...)...
# Returns 1 when the effects were applied, 0 when the marker existed (duplicate).
EXACTLY_ONCE_COMMIT = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  return 0
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
local i = 5
for c = 1, tonumber(ARGV[4]) do
  local n = tonumber(ARGV[i])
  local args = {}
  for j = 1, n do args[j] = ARGV[i + j] end
  redis.call(unpack(args))
  i = i + n + 1
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""

# KEYS: stream
# ARGV: group, consumer
# Deletes the consumer only when it owns no pending entry (redis#9745 loses them otherwise).
SAFE_DELCONSUMER = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
"""

# KEYS: stream
# ARGV: max length
# Returns the id below which entries exceed the length (false when nothing exceeds).
LENGTH_CUT = """
local k = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[1])
if k <= 0 then return false end
local r = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', k)
local last = r[#r][1]
local dash = string.find(last, '-', 1, true)
local ms = string.sub(last, 1, dash - 1)
local seq = tonumber(string.sub(last, dash + 1))
return ms .. '-' .. string.format('%d', seq + 1)
"""
