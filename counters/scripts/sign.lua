-- Record JA replies to one appeal, exactly once per subscriber.
-- SETBIT returns the old bit, so a bitmap over dense ids is an exact dedupe at 1 bit per
-- subscriber (PFADD's return value is not: see design.md). New signers are counted and their
-- signature appended in the same call, so count, bitmap and stream never disagree.
-- The per-minute series (field: Unix minute, value: new signers in it) takes its minute from
-- the stream entry's own id, so it agrees with the signatures' times; the public counter
-- reads the last hour of it with one HMGET.
-- KEYS: 1 signed bitmap, 2 count, 3 signatures stream, 4 per-minute hash
-- ARGV: 1 flat msgpack array: subscriber_id, raw_text, message_id, subscriber_id, ...
--       (flat: one Lua table per member would cost more than the SETBIT)
-- Returns msgpack array: +count for a new signer (the count including it), -count for a duplicate.
local m = cmsgpack.unpack(ARGV[1])
local count = tonumber(redis.call('GET', KEYS[2]) or '0')
local added = 0
local out = {}
local minutes = {}
for i = 1, #m, 3 do
  local id = m[i]
  if redis.call('SETBIT', KEYS[1], id, 1) == 0 then
    added = added + 1
    local entry = redis.call('XADD', KEYS[3], '*', 's', id, 'x', m[i + 1], 'm', m[i + 2])
    local minute = string.format('%d', math.floor(tonumber(string.match(entry, '^%d+')) / 60000))
    minutes[minute] = (minutes[minute] or 0) + 1
    out[#out + 1] = count + added
  else
    out[#out + 1] = -(count + added)
  end
end
if added > 0 then
  redis.call('INCRBY', KEYS[2], added)
  for minute, n in pairs(minutes) do
    redis.call('HINCRBY', KEYS[4], minute, n)
  end
end
return cmsgpack.pack(out)
