-- Record an inbound message once: a carrier redelivers until it gets our deliver_sm_resp, so
-- the same message may arrive several times within a short window. The first sighting of a
-- key appends the message to the inbound stream; later ones within the window change nothing.
-- KEYS: 1 the seen-marker key, 2 the inbound stream
-- ARGV: 1 marker lifetime in milliseconds, 2 encoded message
-- Returns the stream entry id when new, false for a redelivery.
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', tonumber(ARGV[1])) then
  return redis.call('XADD', KEYS[2], '*', 'e', ARGV[2])
end
return false
