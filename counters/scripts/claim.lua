-- Take over entries other consumers left pending for at least a while (they died or hang).
-- Never this consumer's own: those it still holds in memory (XAUTOCLAIM would take them too).
-- KEYS[1]: the stream; ARGV: group, consumer, min idle (ms), how many at most, how far to look
local group, consumer, idle = ARGV[1], ARGV[2], ARGV[3]
local most = tonumber(ARGV[4])
local pending = redis.call('XPENDING', KEYS[1], group, 'IDLE', idle, '-', '+', tonumber(ARGV[5]))
local ids = {}
for _, entry in ipairs(pending) do
  if entry[2] ~= consumer then
    ids[#ids + 1] = entry[1]
    if #ids >= most then break end
  end
end
if #ids == 0 then return {} end
return redis.call('XCLAIM', KEYS[1], group, consumer, idle, unpack(ids))
