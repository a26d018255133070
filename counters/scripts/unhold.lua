-- Release messages held while their appeal was paused: back into their lane, oldest first;
-- or, for a cancelled appeal, drop them all. Once the held set is empty it leaves the index
-- of held sets, in the same call, so a message set aside meanwhile is never forgotten.
-- KEYS: 1 the held sorted set, 2 the lane stream, 3 the index of held sets
-- ARGV: 1 "release" or "drop", 2 at most this many (release), 3 this set's index member
-- Returns how many were released or dropped.
local n
if ARGV[1] == 'drop' then
  n = redis.call('ZCARD', KEYS[1])
  redis.call('DEL', KEYS[1])
else
  local held = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
  for i = 1, #held do
    redis.call('XADD', KEYS[2], '*', 'e', held[i])
    redis.call('ZREM', KEYS[1], held[i])
  end
  n = #held
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[3])
end
return n
