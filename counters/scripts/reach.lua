-- Add participants to the reach HyperLogLogs (day, month, all time) in one call.
-- One msgpack argument instead of one argument per member keeps the client's work per batch
-- small; the keys share the {NS:reach} hash tag so this works on a cluster.
-- KEYS: the HyperLogLogs to update
-- ARGV: 1 msgpack array of subscriber ids
local ids = cmsgpack.unpack(ARGV[1])
for first = 1, #ids, 1000 do
  local chunk = {unpack(ids, first, math.min(first + 999, #ids))}
  for k = 1, #KEYS do
    redis.call('PFADD', KEYS[k], unpack(chunk))
  end
end
return #ids
