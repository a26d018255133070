-- Release messages held while their appeal was paused: back into their lane, oldest first;
-- or, for a cancelled appeal, drop them all and say how many there were.
-- KEYS: 1 the held sorted set, 2 the lane stream
-- ARGV: 1 "release" or "drop", 2 at most this many (release)
-- Returns how many were released or dropped.
if ARGV[1] == 'drop' then
  local n = redis.call('ZCARD', KEYS[1])
  redis.call('DEL', KEYS[1])
  return n
end
local held = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
for i = 1, #held do
  redis.call('XADD', KEYS[2], '*', 'e', held[i])
  redis.call('ZREM', KEYS[1], held[i])
end
return #held
