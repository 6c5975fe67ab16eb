import { createHash } from 'node:crypto';

/**
 * The Redis store's Lua scripts. Kept as string constants (not .lua files) so
 * they ship inside dist/ with nothing to locate at run time. Each script is
 * loaded once and called by SHA1 (EVALSHA; on NOSCRIPT it is loaded again).
 *
 * Every script works on the keys of ONE torrent, all of which share the
 * `{<hex info_hash>}` hash tag (see keys.ts and docs/redis-layout.md), so each
 * call is atomic and runs unchanged on Redis Cluster.
 *
 * Shared KEYS (in this order, built by torrentKeys()):
 *   1 s   zset  seeders:  peer_id → last seen (ms)
 *   2 l   zset  leechers: peer_id → last seen (ms)
 *   3 s4  hash  seeders' IPv4:  peer_id → 6-byte endpoint .. flags(1) [.. key(4)]
 *   4 l4  hash  leechers' IPv4
 *   5 s6  hash  seeders' IPv6:  peer_id → 18-byte endpoint .. flags(1) [.. key(4)]
 *   6 l6  hash  leechers' IPv6
 *   7 m   hash  torrent meta: d = downloaded, i = last index refresh (ms),
 *                 o = a lower bound of every score in s and l (prune only when o <= cutoff)
 * flags: 1 = this peer's `completed` was counted, 2 = a key follows,
 *        4 = the peer also has a record in the other family's hash (dual-stack).
 */

/**
 * Removes every peer whose last-seen score is <= cutoff, in both classes, but
 * only when the torrent's oldest score may be that old: `o` in the meta hash is
 * a lower bound of every score in `s` and `l` (kept by the announce script), so
 * most calls cost nothing. Returns the new lower bound when it pruned (nil for
 * an empty torrent), or `o` unchanged.
 */
const PRUNE = `
local function prune(cutoff, oldest)
  if oldest and oldest > cutoff then return oldest end
  oldest = nil
  for c = 1, 2 do
    while true do
      local gone = redis.call('ZRANGEBYSCORE', KEYS[c], '-inf', cutoff, 'LIMIT', 0, 500)
      if #gone == 0 then break end
      redis.call('ZREM', KEYS[c], unpack(gone))
      redis.call('HDEL', KEYS[c + 2], unpack(gone))
      redis.call('HDEL', KEYS[c + 4], unpack(gone))
      if #gone < 500 then break end
    end
    local first = redis.call('ZRANGE', KEYS[c], 0, 0, 'WITHSCORES')[2]
    if first then
      first = tonumber(first)
      if not oldest or first < oldest then oldest = first end
    end
  end
  return oldest
end
`;

/**
 * announce: upsert or remove one peer, prune, count, sample.
 * ARGV: 1 now, 2 cutoff (now - ttl), 3 peer key TTL ms, 4 meta TTL ms, 5 peer_id,
 *       6 event (s|c|x|u: started, completed, stopped, update), 7 seeder (1|0),
 *       8 ep4 (6 bytes or ''), 9 ep6 (18 bytes or ''), 10 key (4 bytes or ''),
 *       11 numwant (per family), 12 want4 (1|0), 13 want6 (1|0), 14 with ids (1|0),
 *       15 refresh period ms (torrent index entry and key TTLs), 16 random seed
 * Returns: { status (0 ok, 1 key mismatch), complete, incomplete, downloaded,
 *            peers4, peers6, ids4, ids6, index (1 = refresh the torrent index) }
 *
 * Per announce it runs only what the announce needs: the prune only when the
 * oldest score (meta \`o\`) may have expired; the peer's class looked up in the
 * class it announces first; the record of its other family only when the flags
 * say it has one (bit 4); the record rewritten only when it changed.
 */
export const ANNOUNCE_SCRIPT = `${PRUNE}
local now = tonumber(ARGV[1])
local id = ARGV[5]
local event = ARGV[6]
local seeder = ARGV[7] == '1'
local ep4, ep6, key = ARGV[8], ARGV[9], ARGV[10]
local new = seeder and 1 or 2

-- Torrent meta in one call: downloaded count, time of the last periodic refresh, oldest score.
local meta = redis.call('HMGET', KEYS[7], 'd', 'i', 'o')
local downloaded = tonumber(meta[1] or '0')
local indexed = tonumber(meta[2] or '0')
local storedOldest = meta[3] and tonumber(meta[3])
local oldest = prune(tonumber(ARGV[2]), storedOldest)

local function counts(status)
  return { status, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), downloaded, '', '', '', '', 0 }
end

-- The stored peer, if any: its class (1 seeder, 2 leecher) and records.
-- Fast path: a record of the family the announce carries, in the class it announces, gives
-- the class without a ZSCORE (records and sorted sets change together in these scripts).
local cls = nil
local old4, old6 = false, false
local fam = (ep4 == '' and ep6 ~= '') and 6 or 4
local tried = ep4 ~= '' or ep6 ~= '' -- the carried family's record in class \`new\` was looked up
if tried then
  if fam == 4 then old4 = redis.call('HGET', KEYS[new + 2], id) else old6 = redis.call('HGET', KEYS[new + 4], id) end
  if old4 or old6 then cls = new end
end
if not cls and redis.call('ZSCORE', KEYS[new], id) then cls = new
elseif not cls and redis.call('ZSCORE', KEYS[3 - new], id) then cls = 3 - new; old4, old6 = false, false end
local flags, storedKey = 0, ''
if cls then
  -- The family the announce carries first; the other one only if the record says it exists (flag 4).
  local rec, eplen
  if fam == 6 then
    if not (tried and cls == new) then old6 = redis.call('HGET', KEYS[cls + 4], id) end
    if not old6 or math.floor((string.byte(old6, 19) or 0) / 4) % 2 == 1 then
      old4 = redis.call('HGET', KEYS[cls + 2], id)
    end
  else
    if not (tried and cls == new) then old4 = redis.call('HGET', KEYS[cls + 2], id) end
    if not old4 or math.floor((string.byte(old4, 7) or 0) / 4) % 2 == 1 then
      old6 = redis.call('HGET', KEYS[cls + 4], id)
    end
  end
  rec, eplen = old4, 6
  if not rec then rec, eplen = old6, 18 end
  if rec then
    flags = string.byte(rec, eplen + 1) or 0
    if math.floor(flags / 2) % 2 == 1 then storedKey = string.sub(rec, eplen + 2, eplen + 5) end
  end
end

-- Anti-hijack: a keyed peer may only be changed with its key or from its address.
if storedKey ~= '' and key ~= storedKey then
  local same = (old4 and ep4 ~= '' and string.sub(old4, 1, 4) == string.sub(ep4, 1, 4))
    or (old6 and ep6 ~= '' and string.sub(old6, 1, 16) == string.sub(ep6, 1, 16))
  if not same then return counts(1) end
end

-- Meta fields to write (one HSET at the end).
local set = {}
if oldest ~= storedOldest and oldest then set[#set + 1] = 'o'; set[#set + 1] = oldest end

if event == 'x' then
  if cls then
    redis.call('ZREM', KEYS[cls], id)
    redis.call('HDEL', KEYS[cls + 2], id)
    redis.call('HDEL', KEYS[cls + 4], id)
  end
  if #set > 0 then redis.call('HSET', KEYS[7], unpack(set)) end
  return counts(0)
end

-- Upsert. A family the announce does not carry keeps its stored endpoint.
if ep4 == '' and old4 then ep4 = string.sub(old4, 1, 6) end
if ep6 == '' and old6 then ep6 = string.sub(old6, 1, 18) end
if key ~= '' then storedKey = key end
local completed = flags % 2 == 1
local countIt = event == 'c' and not completed
if countIt then completed = true end
local tail = string.char((completed and 1 or 0) + (storedKey ~= '' and 2 or 0) + ((ep4 ~= '' and ep6 ~= '') and 4 or 0))
  .. storedKey
if cls and cls ~= new then
  redis.call('ZREM', KEYS[cls], id)
  redis.call('HDEL', KEYS[cls + 2], id)
  redis.call('HDEL', KEYS[cls + 4], id)
  old4, old6 = false, false
end
-- Key TTLs make a torrent nobody announces to vanish by itself. They are set
-- (1) on a key this announce may have created (a new member or field), and
-- (2) on all seven keys at each periodic refresh (every ARGV[15] ms while the
-- torrent is announced to). ARGV[3] = peer TTL + slack + that period, so no key
-- expires before its last live peer, yet the hot path rarely pays for PEXPIRE.
local ttl = ARGV[3]
local refresh = 0
-- abs(): a clock far behind the last refresh (another process, a test clock) refreshes
-- too, but mere skew between processes (less than a period) does not make every announce refresh.
if math.abs(now - indexed) >= tonumber(ARGV[15]) then refresh = 1 end
if redis.call('ZADD', KEYS[new], now, id) == 1 and refresh == 0 then redis.call('PEXPIRE', KEYS[new], ttl) end
if not oldest or now < oldest then
  oldest = now
  if oldest ~= storedOldest then set = { 'o', oldest } end
end
if ep4 ~= '' then
  local rec = ep4 .. tail
  if rec ~= old4 and redis.call('HSET', KEYS[new + 2], id, rec) == 1 and refresh == 0 then
    redis.call('PEXPIRE', KEYS[new + 2], ttl)
  end
end
if ep6 ~= '' then
  local rec = ep6 .. tail
  if rec ~= old6 and redis.call('HSET', KEYS[new + 4], id, rec) == 1 and refresh == 0 then
    redis.call('PEXPIRE', KEYS[new + 4], ttl)
  end
end
if countIt then
  downloaded = downloaded + 1
  set[#set + 1] = 'd'; set[#set + 1] = downloaded
end
if refresh == 1 then
  set[#set + 1] = 'i'; set[#set + 1] = now
  redis.call('HSET', KEYS[7], unpack(set))
  for k = 1, 6 do redis.call('PEXPIRE', KEYS[k], ttl) end
  redis.call('PEXPIRE', KEYS[7], ARGV[4])
elseif #set > 0 then
  redis.call('HSET', KEYS[7], unpack(set))
end

local result = counts(0)
result[9] = refresh
local numwant = tonumber(ARGV[11])
if numwant <= 0 then return result end
local withIds = ARGV[14] == '1'
math.randomseed(tonumber(ARGV[16]))

-- Samples up to numwant entries of one family, uniformly without replacement
-- over the union of the pools (leechers, and seeders unless the requester
-- seeds): the number drawn from each pool is itself drawn at random, then
-- HRANDFIELD picks that many distinct entries. The requester is skipped.
local function sample(pools, size, mine)
  local avail, total = {}, 0
  for i, pool in ipairs(pools) do
    -- The requester is in at most one pool: its own class's hash of this family.
    avail[i] = redis.call('HLEN', pool) - ((pool == mine) and 1 or 0)
    total = total + avail[i]
  end
  local want = math.min(numwant, total)
  local eps, ids = {}, {}
  if want <= 0 then return '', '' end
  local take = {}
  if want == total then
    take = avail
  else
    local left = {}
    for i = 1, #pools do take[i] = 0; left[i] = avail[i] end
    local rest = total
    for _ = 1, want do
      local r = math.random() * rest
      for i = 1, #pools do
        if r < left[i] or i == #pools then
          take[i] = take[i] + 1; left[i] = left[i] - 1; break
        end
        r = r - left[i]
      end
      rest = rest - 1
    end
  end
  for i, pool in ipairs(pools) do
    local k = take[i]
    if k > 0 then
      local got
      if k == avail[i] then got = redis.call('HGETALL', pool)
      else got = redis.call('HRANDFIELD', pool, k + 1, 'WITHVALUES') end
      local n = 0
      for j = 1, #got, 2 do
        if n >= k then break end
        if got[j] ~= id then
          n = n + 1
          eps[#eps + 1] = string.sub(got[j + 1], 1, size)
          if withIds then ids[#ids + 1] = got[j] end
        end
      end
    end
  end
  return table.concat(eps), table.concat(ids)
end

if ARGV[12] == '1' then
  local pools = { KEYS[4] }
  if not seeder then pools[2] = KEYS[3] end
  result[5], result[7] = sample(pools, 6, ep4 ~= '' and KEYS[new + 2] or nil)
end
if ARGV[13] == '1' then
  local pools = { KEYS[6] }
  if not seeder then pools[2] = KEYS[5] end
  result[6], result[8] = sample(pools, 18, ep6 ~= '' and KEYS[new + 4] or nil)
end
return result
`;

/**
 * counts: prune one torrent, then count it (scrape, scans, totals).
 * ARGV: 1 cutoff. Returns { seeders, leechers, peers4, peers6, downloaded, last announce }.
 */
export const COUNT_SCRIPT = `${PRUNE}
local meta = redis.call('HMGET', KEYS[7], 'd', 'o')
prune(tonumber(ARGV[1]), meta[2] and tonumber(meta[2]))
-- The last announce is the newest score (the announce script does not write it).
local last = 0
for c = 1, 2 do
  local newest = redis.call('ZRANGE', KEYS[c], -1, -1, 'WITHSCORES')[2]
  if newest and tonumber(newest) > last then last = tonumber(newest) end
end
return {
  redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]),
  redis.call('HLEN', KEYS[3]) + redis.call('HLEN', KEYS[4]),
  redis.call('HLEN', KEYS[5]) + redis.call('HLEN', KEYS[6]),
  tonumber(meta[1] or '0'),
  last
}
`;

/**
 * peers: prune one torrent, then list up to `limit` live peers (stats detail view).
 * ARGV: 1 cutoff, 2 limit. Returns a flat list: peer_id, seeder (1|0), last seen, ep4|'', ep6|'' per peer.
 */
export const PEERS_SCRIPT = `${PRUNE}
local o = redis.call('HGET', KEYS[7], 'o')
prune(tonumber(ARGV[1]), o and tonumber(o))
local limit = tonumber(ARGV[2])
local out = {}
for c = 1, 2 do
  if limit <= 0 then break end
  local list = redis.call('ZRANGE', KEYS[c], 0, limit - 1, 'WITHSCORES')
  for j = 1, #list, 2 do
    local id = list[j]
    local r4 = redis.call('HGET', KEYS[c + 2], id)
    local r6 = redis.call('HGET', KEYS[c + 4], id)
    out[#out + 1] = id
    out[#out + 1] = c == 1 and 1 or 0
    out[#out + 1] = tonumber(list[j + 1])
    out[#out + 1] = r4 and string.sub(r4, 1, 6) or ''
    out[#out + 1] = r6 and string.sub(r6, 1, 18) or ''
    limit = limit - 1
  end
end
return out
`;

export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export const SCRIPTS = {
  announce: script(ANNOUNCE_SCRIPT),
  count: script(COUNT_SCRIPT),
  peers: script(PEERS_SCRIPT),
} as const;
