-- Append consent events (subscribe / unsubscribe) and update the derived state with them.
-- KEYS: 1 ids, 2 sequence, 3 numbers, 4 active bitmap, 5 consent stream, 6 route hash,
--       7 language hash, 8 suppressed set (hashes of forgotten numbers), 9 opted-out bitmap
--       (set by an unsubscribe, cleared by a subscribe: "never subscribed" and "opted out"
--       differ for a stranger who signs a public appeal), 10 pending bitmap (imported or
--       signed up on the web: waiting for the person to confirm by text)
-- Kinds: subscribe (active, not pending), unsubscribe (not active, not pending, opted out),
--        pending (an import: pending unless already active; never active by itself).
-- ARGV: 1 msgpack array of events
--       {number, kind, source, text, message_id, route, language, number_hash}
--       a non-empty number_hash marks an import: refused if the number was forgotten.
-- Returns msgpack array of {id, was_active, refused}.
local events = cmsgpack.unpack(ARGV[1])
local out = {}
for i = 1, #events do
  local e = events[i]
  local number, kind, hash = e[1], e[2], e[8]
  if hash ~= '' and redis.call('SISMEMBER', KEYS[8], hash) == 1 then
    out[i] = {0, 0, 1}
  else
    local id = redis.call('HGET', KEYS[1], number)
    if not id then
      id = redis.call('INCR', KEYS[2])
      redis.call('HSET', KEYS[1], number, id)
      redis.call('HSET', KEYS[3], id, number)
    end
    id = tonumber(id)
    local was
    if kind == 'pending' then
      was = redis.call('GETBIT', KEYS[4], id)
      if was == 0 then redis.call('SETBIT', KEYS[10], id, 1) end
    else
      local bit = (kind == 'subscribe') and 1 or 0
      was = redis.call('SETBIT', KEYS[4], id, bit)
      redis.call('SETBIT', KEYS[9], id, 1 - bit)
      redis.call('SETBIT', KEYS[10], id, 0)
    end
    redis.call('XADD', KEYS[5], '*', 'i', id, 'n', number, 'e', kind, 's', e[3], 'x', e[4],
      'm', e[5])
    if e[6] ~= '' then redis.call('HSET', KEYS[6], id, e[6]) end
    if e[7] ~= '' then redis.call('HSET', KEYS[7], id, e[7]) end
    out[i] = {id, was, 0}
  end
end
return cmsgpack.pack(out)
