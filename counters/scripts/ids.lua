-- Dense subscriber ids, get-or-create, for a whole batch of numbers in one call.
-- KEYS: 1 ids hash (number -> id), 2 sequence, 3 numbers hash (id -> number)
-- ARGV: 1 msgpack array of numbers, 2 "1" to create missing ids, "0" to only look them up
-- Returns msgpack array of ids, 0 where a number is unknown and creation was not asked for.
-- Creating an id does not make anyone an active subscriber (the public-appeal case).
local numbers = cmsgpack.unpack(ARGV[1])
local create = ARGV[2] == '1'
local out = {}
for i = 1, #numbers do
  local n = numbers[i]
  local id = redis.call('HGET', KEYS[1], n)
  if id then
    out[i] = tonumber(id)
  elseif create then
    id = redis.call('INCR', KEYS[2])
    redis.call('HSET', KEYS[1], n, id)
    redis.call('HSET', KEYS[3], id, n)
    out[i] = id
  else
    out[i] = 0
  end
end
return cmsgpack.pack(out)
