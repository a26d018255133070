-- Record a batch of inbound messages, each once: a carrier redelivers until it gets our
-- deliver_sm_resp, so the same message may arrive several times within a short window. The
-- first sighting of a key appends the message to the inbound stream; later ones within the
-- window change nothing (also within one batch: they are handled in order).
-- KEYS: 1..n the seen-marker keys, n+1 the inbound stream
-- ARGV: 1 marker lifetime in milliseconds, 2..n+1 the encoded messages
-- Returns msgpack array: 1 recorded now, 0 a redelivery.
local stream = KEYS[#KEYS]
local ttl = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS - 1 do
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ttl) then
    redis.call('XADD', stream, '*', 'e', ARGV[i + 1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return cmsgpack.pack(out)
