-- Fan-out: enqueue each recipient of an appeal at most once, even across restarts.
-- Marking the recipient and adding the message happen in one call: a crash leaves both or
-- neither, so re-running the fan-out from the start skips exactly those already queued.
-- KEYS: 1 sent bitmap of the appeal, 2 lane stream
-- ARGV: 1 msgpack array of subscriber ids, then one encoded message per id (binary, so kept
--       out of the msgpack array: cmsgpack cannot read msgpack's bin type)
-- Returns msgpack array of 1 (queued now) or 0 (queued before).
local ids = cmsgpack.unpack(ARGV[1])
local out = {}
for i = 1, #ids do
  if redis.call('SETBIT', KEYS[1], ids[i], 1) == 0 then
    redis.call('XADD', KEYS[2], '*', 'e', ARGV[i + 1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return cmsgpack.pack(out)
