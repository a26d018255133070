-- Queue replies at most once per key (a STOP confirmation keyed by the inbound entry it
-- answers): a router that reads the same entry again after a crash sends nothing twice.
-- Keys are remembered in a sorted set scored by time and forgotten after ARGV[2] ms.
-- KEYS: 1 the sorted set of reply keys, 2 the transactional lane
-- ARGV: 1 now in ms, 2 how long a key is remembered (ms), then key, encoded message, ...
-- Returns msgpack array of 1 (queued now) or 0 (queued before).
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local out = {}
for i = 3, #ARGV, 2 do
  if redis.call('ZADD', KEYS[1], 'NX', now, ARGV[i]) == 1 then
    redis.call('XADD', KEYS[2], '*', 'e', ARGV[i + 1])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return cmsgpack.pack(out)
