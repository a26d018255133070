-- Remember what each carrier message id refers to, for a batch of submits in one call.
-- KEYS: the message-id keys (all under one hash tag)
-- ARGV: 1 lifetime in seconds, then one encoded record per key
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ttl)
end
return #KEYS
