-- Forget a number: erase its mappings and derived state, keep a hashed suppression entry so a
-- later import cannot re-add it, and log the request without the number. The caller then
-- scrubs the number's earlier consent entries from the log (see subscribers.py).
-- KEYS: 1 ids, 2 numbers, 3 active, 4 route, 5 language, 6 last appeal, 7 suppressed, 8 consent,
--       9 opted-out bitmap, 10 pending bitmap
-- ARGV: 1 number, 2 number hash, 3 source, 4 message id
-- Returns the id the number had (0 if unknown).
local id = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[7], ARGV[2])
if not id then
  redis.call('XADD', KEYS[8], '*', 'i', 0, 'h', ARGV[2], 'e', 'forget', 's', ARGV[3], 'm', ARGV[4])
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], id)
redis.call('SETBIT', KEYS[3], id, 0)
redis.call('SETBIT', KEYS[9], id, 0)
redis.call('SETBIT', KEYS[10], id, 0)
redis.call('HDEL', KEYS[4], id)
redis.call('HDEL', KEYS[5], id)
redis.call('HDEL', KEYS[6], id)
redis.call('XADD', KEYS[8], '*', 'i', id, 'h', ARGV[2], 'e', 'forget', 's', ARGV[3], 'm', ARGV[4])
return tonumber(id)
