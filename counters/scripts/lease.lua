-- Take or keep a lease: set KEYS[1] to ARGV[1] for ARGV[2] ms if it is free, already ours,
-- or held by ARGV[3] (a holder the caller knows is dead). Returns 1 when the lease is ours
-- now, else the current holder.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and holder ~= ARGV[3] then
  return holder
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
