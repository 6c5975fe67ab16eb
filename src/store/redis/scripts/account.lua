--[[
  account.lua: one announce's accounting for a passkey of a private tracker
  (store/account-store.ts has the rules). Stands alone. Two keys under the
  passkey's hash tag (one slot on a cluster):

    a  hash: uploaded, downloaded, completed, announces, last (ms), and
       cursor (where the next prune of p resumes)
    p  hash: info hash + peer id (40 bytes) -> "uploaded downloaded seen c"
       (the peer's baseline: its totals at its previous announce, when, and
       c = 1 once its completion was counted)

  `a` has no TTL: it is the member's record. `p` expires with the peer TTL
  when the key stops announcing; while it announces, each run prunes up to
  PRUNE_MAX baselines older than the peer TTL (an HSCAN step).

  KEYS: a, p (keys.ts: accountKeys)
  ARGV: 1 now (ms)  2 peer TTL (ms)  3 field (40 bytes)  4 event
        (started|completed|stopped|update)  5 uploaded  6 downloaded
        7 most bytes per second believed  8 shortest elapsed time counted (ms)
  Returns: 1.
  Complexity: O(1) plus PRUNE_MAX fields.
]]

local accountKey, peersKey = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local field = ARGV[3]
local event = ARGV[4]
local uploaded = tonumber(ARGV[5])
local downloaded = tonumber(ARGV[6])
local maxRate = tonumber(ARGV[7])
local minElapsed = tonumber(ARGV[8])

local PRUNE_MAX = 20

local function int(x) return string.format('%.0f', x) end

local function delta(previous, current, elapsed)
  local d = current - previous
  if d <= 0 then return 0 end
  if d > math.max(elapsed, minElapsed) / 1000 * maxRate then return 0 end
  return d
end

local base = redis.call('HGET', peersKey, field)
local prevUp, prevDown, seen, counted
if base then
  local a, b, c, d = string.match(base, '^(%S+) (%S+) (%S+) (%S+)$')
  prevUp, prevDown, seen, counted = tonumber(a), tonumber(b), tonumber(c), d == '1'
  if not seen or now - seen > ttl then base = nil end
end
if base and event ~= 'started' then
  local up = delta(prevUp, uploaded, now - seen)
  local down = delta(prevDown, downloaded, now - seen)
  if up > 0 then redis.call('HINCRBY', accountKey, 'uploaded', int(up)) end
  if down > 0 then redis.call('HINCRBY', accountKey, 'downloaded', int(down)) end
else
  counted = false
end
if event == 'completed' and not counted then
  redis.call('HINCRBY', accountKey, 'completed', 1)
  counted = true
end
redis.call('HINCRBY', accountKey, 'announces', 1)
redis.call('HSET', accountKey, 'last', int(now))
if event == 'stopped' then
  redis.call('HDEL', peersKey, field)
else
  local baseline = int(uploaded) .. ' ' .. int(downloaded) .. ' ' .. int(now) .. ' ' .. (counted and '1' or '0')
  redis.call('HSET', peersKey, field, baseline)
  redis.call('PEXPIRE', peersKey, ttl)
end

-- One step of pruning baselines that were not renewed within the TTL.
local scan = redis.call('HSCAN', peersKey, redis.call('HGET', accountKey, 'cursor') or '0', 'COUNT', PRUNE_MAX)
redis.call('HSET', accountKey, 'cursor', scan[1])
local found = scan[2]
for i = 1, #found, 2 do
  local when = tonumber(string.match(found[i + 1], '^%S+ %S+ (%S+)'))
  if not when or now - when > ttl then redis.call('HDEL', peersKey, found[i]) end
end
return 1
