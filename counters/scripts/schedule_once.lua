-- Schedule one message per member of a bitmap, at most once ever (thank-yous: one per signer
-- and appeal). SETBIT returns the old bit, so a re-run (a router that crashed after signing
-- and reads the same JA again) schedules nothing twice.
-- KEYS: 1 the "done" bitmap (per appeal and message kind), 2 the delayed schedule (sorted set)
-- ARGV: 1 msgpack flat array: id, due_ms, id, due_ms, ...; then one schedule member per id
--       ("<lane>|<encoded message>", binary, so outside the msgpack array)
-- Returns msgpack array of 1 (scheduled now) or 0 (scheduled before).
local m = cmsgpack.unpack(ARGV[1])
local out = {}
for i = 1, #m, 2 do
  local n = (i + 1) / 2
  if redis.call('SETBIT', KEYS[1], m[i], 1) == 0 then
    redis.call('ZADD', KEYS[2], m[i + 1], ARGV[n + 1])
    out[n] = 1
  else
    out[n] = 0
  end
end
return cmsgpack.pack(out)
