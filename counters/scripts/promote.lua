-- Move delayed messages that are due into their lane, atomically (no loss, no double move).
-- Members of the schedule are "<lane>|<encoded message>", scored by due time in milliseconds.
-- KEYS: 1 schedule sorted set, 2 transactional lane, 3 bulk lane
-- ARGV: 1 now in milliseconds, 2 maximum number to move
-- Returns the number moved.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due do
  local member = due[i]
  local bar = string.find(member, '|', 1, true)
  local lane = string.sub(member, 1, bar - 1)
  local stream = (lane == 'tx') and KEYS[2] or KEYS[3]
  redis.call('XADD', stream, '*', 'e', string.sub(member, bar + 1))
  redis.call('ZREM', KEYS[1], member)
end
return #due
