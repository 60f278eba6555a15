"""The Lua scripts of ``RedisStateStore``: every write that must be atomic, and the reads
that must agree with themselves.

Redis runs a script to the end before anything else, but does not roll one back: each write
script checks everything before it writes anything, so a refused commit changes nothing.

Each script is a string registered on the store's client (``redis.Redis.register_script``).
The comment above it lists its ``KEYS`` and ``ARGV`` in order; the store
(``pystator.stores.redis.store``) builds both lists and names the key layout in its
docstring.
"""

from __future__ import annotations

# KEYS: entity, history, idempotency, entities index, pending, pending of the machine,
#       outbox ids of the entity
# ARGV: expected, version, state, entity JSON, state-index prefix, entity id,
#       history JSON ('' = none), has key ('0'/'1'), key, key JSON, outbox prefix,
#       machine name, the entity's created_at, the incarnation ('' = not checked), n items,
#       then per item: id, JSON, status, attempts, claimed_until, created_at, has error
#       ('0'/'1'), error
# Refused: {0, actual} the version moved on, {-1, actual} the key was applied, {-2, actual}
# the stored created_at is not the incarnation (the entity was deleted and created again).
# created_at is compared as a number (an int and a float of the same value are equal); an
# entity written before 'c' was kept has it in its JSON only.
COMMIT = """
local current = redis.call('HMGET', KEYS[1], 'v', 's', 'c')
local actual = 0
if current[1] then actual = tonumber(current[1]) end
if actual ~= tonumber(ARGV[1]) then return {0, actual} end
if ARGV[14] ~= '' and actual ~= 0 then
  local created = current[3]
  if not created then
    created = cjson.decode(redis.call('HGET', KEYS[1], 'd'))['created_at']
  end
  if tonumber(created) ~= tonumber(ARGV[14]) then return {-2, actual} end
end
local has_key = ARGV[8] == '1'
if has_key and redis.call('HEXISTS', KEYS[3], ARGV[9]) == 1 then return {-1, actual} end
local old_state = current[2]
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3], 'd', ARGV[4], 'c', ARGV[13])
if old_state ~= ARGV[3] then
  if old_state then redis.call('ZREM', ARGV[5] .. old_state, ARGV[6]) end
  redis.call('ZADD', ARGV[5] .. ARGV[3], 0, ARGV[6])
end
if actual == 0 then redis.call('ZADD', KEYS[4], 0, ARGV[6]) end
if ARGV[7] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[7]) end
if has_key then redis.call('HSET', KEYS[3], ARGV[9], ARGV[10]) end
local n = tonumber(ARGV[15])
local i = 16
for _ = 1, n do
  local id = ARGV[i]
  redis.call('HSET', ARGV[11] .. id, 'd', ARGV[i + 1], 'm', ARGV[12], 'status', ARGV[i + 2],
             'attempts', ARGV[i + 3], 'claimed_until', ARGV[i + 4], 'has_error', ARGV[i + 6],
             'last_error', ARGV[i + 7])
  if ARGV[i + 2] == 'pending' then
    redis.call('ZADD', KEYS[5], ARGV[i + 5], id)
    redis.call('ZADD', KEYS[6], ARGV[i + 5], id)
  end
  redis.call('SADD', KEYS[7], id)
  i = i + 8
end
return {1, tonumber(ARGV[2])}
"""

# KEYS: a pending zset.  ARGV: now, limit, outbox prefix.
# Walks the zset in created_at order and keeps the items whose lease has expired; after
# ``limit`` of them it still takes the rest of the last created_at (ties are sorted by the
# caller), so the cut is made in the same order as the other stores make it.
PENDING = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = {}
local count = 0
local last = nil
local start = 0
while true do
  local ids = redis.call('ZRANGE', KEYS[1], start, start + 255, 'WITHSCORES')
  if #ids == 0 then break end
  for j = 1, #ids, 2 do
    if count >= limit and ids[j + 1] ~= last then return out end
    local h = redis.call('HMGET', ARGV[3] .. ids[j], 'd', 'status', 'attempts', 'has_error',
                         'last_error', 'claimed_until')
    if h[2] == 'pending' and tonumber(h[6]) <= now then
      out[#out + 1] = h[1]
      out[#out + 1] = h[3]
      out[#out + 1] = h[4]
      out[#out + 1] = h[5]
      out[#out + 1] = h[6]
      count = count + 1
      last = ids[j + 1]
    end
  end
  start = start + 256
end
return out
"""

# KEYS: the outbox item.  ARGV: now, until.
CLAIM = """
local h = redis.call('HMGET', KEYS[1], 'status', 'claimed_until')
if h[1] ~= 'pending' then return 0 end
if tonumber(h[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'claimed_until', ARGV[2])
return 1
"""

# KEYS: the outbox item, the pending zset.  ARGV: id, status, attempts, has error, error,
# pending-of-machine prefix.
FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'attempts', ARGV[3], 'has_error', ARGV[4],
           'last_error', ARGV[5])
if ARGV[2] ~= 'pending' then
  local m = redis.call('HGET', KEYS[1], 'm')
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', ARGV[6] .. m, ARGV[1])
end
return 1
"""

# KEYS: entity, history, idempotency, entities index, outbox ids of the entity, pending,
#       pending of the machine.  ARGV: state-index prefix, entity id, outbox prefix.
DELETE = """
local state = redis.call('HGET', KEYS[1], 's')
for _, id in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  redis.call('DEL', ARGV[3] .. id)
  redis.call('ZREM', KEYS[6], id)
  redis.call('ZREM', KEYS[7], id)
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[5])
redis.call('ZREM', KEYS[4], ARGV[2])
if state then
  redis.call('ZREM', ARGV[1] .. state, ARGV[2])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS: an index zset.  ARGV: offset, limit, entity key prefix.
# Count and page in one script, so they agree with each other.
LIST = """
local out = {redis.call('ZCARD', KEYS[1])}
local limit = tonumber(ARGV[2])
if limit <= 0 then return out end
local offset = tonumber(ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], offset, offset + limit - 1)) do
  local d = redis.call('HGET', ARGV[3] .. id, 'd')
  if d then out[#out + 1] = d end
end
return out
"""


__all__ = ["CLAIM", "COMMIT", "DELETE", "FINISH", "LIST", "PENDING"]
