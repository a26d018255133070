-- Keep entries a live consumer still holds from being taken over: reset their idle time,
-- but only for the entries this consumer still owns (one taken over already stays taken).
-- KEYS[1]: the stream; ARGV: group, consumer, then the entry ids
-- Returns the ids this consumer no longer owns (taken over, or finished and deleted).
local group, consumer = ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local owned = redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1, consumer)
  if #owned > 0 then
    redis.call('XCLAIM', KEYS[1], group, consumer, 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
