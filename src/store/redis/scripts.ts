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
 * KEYS (in this order, built by torrentKeys()):
 *   1 p  hash    the torrent: field `m` = meta (msgpack array, below) and the
 *                peer buckets, field `<set>:<bucket>` = concatenated peer records
 *   2 e  zset    expiry index, only once a set has more than one bucket:
 *                bucket field → lower bound of its records' last-seen times (ms)
 *   3 d  string  downloaded count, only once > 0; outlives the peers (30 days)
 *
 * Sets (k): 1 seeders' IPv4, 2 leechers' IPv4, 3 seeders' IPv6, 4 leechers' IPv6;
 * k = class + (IPv6 and 2 or 0), class 1 = seeder, 2 = leecher. A dual-stack
 * peer has a record in both families' sets of its class, with flag 4 and the
 * same last-seen time in both.
 *
 * Record (fixed size per set, so a bucket is an array):
 *   peer_id (20) .. last seen ms (6, big endian) .. flags (1) .. key (4, zeros if none)
 *   .. endpoint (6 compact IPv4 or 18 compact IPv6)   = 37 or 49 bytes
 * flags: 1 = this peer's `completed` was counted, 2 = the key is real,
 *        4 = the peer also has a record in the other family's set (dual-stack).
 *
 * Buckets: each set is a linear hash table (Litwin) over sha1(salt .. peer_id):
 * with N buckets, L = the largest power of two <= N, a peer is in bucket
 * h mod 2L, or h mod L when that is >= N. One bucket is split when the set
 * averages more than SPLIT records per bucket and one merged back below MERGE,
 * so resizing costs one bucket's work per announce, never the whole swarm.
 * The salt is random per torrent: clients cannot aim peer ids at one bucket.
 *
 * Meta (msgpack array, 1-based):
 *   1 downloaded  2 last periodic refresh (ms)  3 o: a lower bound of every
 *   last-seen time (-1: no peers), so the prune runs only when something may
 *   have expired  4 indexed (1 once the expiry zset is in use)  5 salt
 *   6 last announce (ms)  7 seeders  8 leechers  9..12 records in set 1..4
 *   13..16 buckets in set 1..4
 */
const COMMON = `
local SPLIT, MERGE = 16, 4
local RS = { 37, 37, 49, 49 }
local EPL = { 6, 6, 18, 18 }
-- The torrent being worked on: its keys (K: p, e, d) and what has been read of it.
-- Script-level, set by begin() for each torrent: the functions below are created
-- once per call, not once per announce of a batch.
local K, meta, cache, dirty, saltStr = nil, nil, nil, nil, ''
local function begin(keys)
  K, meta, cache, dirty, saltStr = keys, nil, {}, {}, ''
end
-- The field name of bucket n of set k, 'k:n'. Made once per call: Lua turns a number
-- into a string with printf's floating-point conversion, costly at this rate.
local FN = { {}, {}, {}, {} }
local function fname(k, n)
  local t = FN[k]
  local f = t[n]
  if not f then
    f = string.format('%d:%d', k, n)
    t[n] = f
  end
  return f
end

-- Fetches the bucket fields not cached yet, in one HMGET ('' = empty or missing).
local function load(fields)
  local need = {}
  for _, f in ipairs(fields) do
    if cache[f] == nil then need[#need + 1] = f end
  end
  if #need > 0 then
    local got = redis.call('HMGET', K[1], unpack(need))
    for j, f in ipairs(need) do cache[f] = got[j] or '' end
  end
end
local function bucket(f)
  if cache[f] == nil then load({ f }) end
  return cache[f]
end
local function put(f, s)
  cache[f] = s
  dirty[f] = true
end

-- Reads meta. Returns false when the torrent has no hash.
local function readMeta()
  local raw = redis.call('HGET', K[1], 'm')
  if not raw then return false end
  meta = cmsgpack.unpack(raw)
  saltStr = string.format('%d', meta[5])
  return true
end

local function readTime(s, pos)
  local a, b, c, d, e, f = string.byte(s, pos, pos + 5)
  return ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f
end
local function hashOf(id)
  return tonumber(string.sub(redis.sha1hex(saltStr .. id), 1, 7), 16)
end
-- Bucket of hash h in a set of n buckets (linear hashing).
local function addr(h, n)
  if n == 1 then return 0 end
  local l = 1
  while l * 2 <= n do l = l * 2 end
  local b = h % (2 * l)
  if b >= n then b = b - l end
  return b
end
-- Offset (1-based) of the record of id in bucket s, or nil.
local function find(s, id, size)
  local from = 1
  while true do
    local at = string.find(s, id, from, true)
    if not at then return nil end
    if (at - 1) % size == 0 then return at end
    from = at + 1
  end
end

-- One record fewer in set k; the peer fewer too unless it is the IPv6 half of a dual-stack peer.
local function dropped(k, flags)
  meta[8 + k] = meta[8 + k] - 1
  if k <= 2 or math.floor(flags / 4) % 2 == 0 then
    local cls = (k - 1) % 2 + 1
    meta[6 + cls] = meta[6 + cls] - 1
  end
end

-- Drops the records of bucket f (set k) last seen at or before cutoff.
-- Returns the oldest remaining last-seen time, or nil when the bucket is empty.
local function filter(f, k, cutoff)
  local s = bucket(f)
  local size = RS[k]
  local keep, oldest, gone = {}, nil, false
  for off = 1, #s, size do
    local t = readTime(s, off + 20)
    if t > cutoff then
      keep[#keep + 1] = string.sub(s, off, off + size - 1)
      if not oldest or t < oldest then oldest = t end
    else
      gone = true
      dropped(k, string.byte(s, off + 26))
    end
  end
  if gone then put(f, table.concat(keep)) end
  return oldest
end

-- Merges the last bucket of set k into its split partner when the set got sparse.
local function mergeOne(k)
  local n = meta[12 + k]
  n = n - 1
  local l = 1
  while l * 2 <= n do l = l * 2 end
  local src, dst = fname(k, n), fname(k, n - l)
  local s = bucket(src)
  if s ~= '' then
    put(dst, bucket(dst) .. s)
    put(src, '')
  end
  meta[12 + k] = n
  if meta[4] == 1 then
    local score = redis.call('ZSCORE', K[2], src)
    if score then
      redis.call('ZADD', K[2], 'LT', score, dst)
      redis.call('ZREM', K[2], src)
    end
  end
end
-- A sparse set gives back up to 8 buckets per announce (sampling walks buckets, so
-- thousands of empty ones after a mass expiry would cost). An empty set starts
-- over at one bucket at once: its buckets are all empty, and expiry-index entries
-- left for them are dropped by the next prune that meets them.
local function maybeMerge(k)
  if meta[8 + k] == 0 then
    meta[12 + k] = 1
    return
  end
  for _ = 1, 8 do
    local n = meta[12 + k]
    if n <= 1 or meta[8 + k] >= MERGE * n then return end
    mergeOne(k)
  end
end

-- Removes every record last seen at or before cutoff, but only when the oldest may
-- be that old (meta o). Small torrents (one bucket per set) are filtered whole;
-- split ones through the expiry zset, which names the buckets that may hold one.
local function prune(cutoff)
  if meta[3] < 0 or meta[3] > cutoff then return end
  local o = -1
  if meta[4] == 1 then
    while true do
      local fs = redis.call('ZRANGEBYSCORE', K[2], '-inf', cutoff, 'LIMIT', 0, 100)
      if #fs == 0 then break end
      load(fs)
      for _, f in ipairs(fs) do
        local oldest = filter(f, tonumber(string.sub(f, 1, 1)), cutoff)
        if oldest then redis.call('ZADD', K[2], oldest, f) else redis.call('ZREM', K[2], f) end
      end
      if #fs < 100 then break end
    end
    local first = redis.call('ZRANGE', K[2], 0, 0, 'WITHSCORES')[2]
    if first then o = tonumber(first) end
  else
    local fs = {}
    for k = 1, 4 do
      if meta[8 + k] > 0 then fs[#fs + 1] = fname(k, 0) end
    end
    load(fs)
    for k = 1, 4 do
      if meta[8 + k] > 0 then
        local oldest = filter(fname(k, 0), k, cutoff)
        if oldest and (o < 0 or oldest < o) then o = oldest end
      end
    end
  end
  meta[3] = o
end

-- Writes meta and the changed buckets in one HSET (empty buckets: HDEL). A torrent
-- left without peers is deleted (its downloaded count lives on in K[3]).
-- Returns false when it deleted the torrent.
local function flush()
  if meta[7] + meta[8] == 0 then
    redis.call('DEL', K[1], K[2])
    return false
  end
  -- In batches: unpack() is limited by Lua's C stack (8,000 values), and a prune
  -- after a long silence may rewrite thousands of buckets of a big swarm at once.
  local args = { 'HSET', K[1], 'm', cmsgpack.pack(meta) }
  local del = { 'HDEL', K[1] }
  for f in pairs(dirty) do
    local s = cache[f]
    if s == '' then
      del[#del + 1] = f
      if #del >= 2000 then
        redis.call(unpack(del))
        del = { 'HDEL', K[1] }
      end
    else
      args[#args + 1] = f
      args[#args + 1] = s
      if #args >= 2000 then
        redis.call(unpack(args))
        args = { 'HSET', K[1] }
      end
    end
  end
  if #args > 2 then redis.call(unpack(args)) end
  if #del > 2 then redis.call(unpack(del)) end
  return true
end
`;

/**
 * One announce: upsert or remove one peer, prune, count, sample. Not a script of its
 * own: the body of announceOne(ARGV) in ANNOUNCE_SCRIPT, which unpacks each announce
 * of a batch into this ARGV (its parameter shadows the global) after begin() has set
 * the torrent's keys K (COMMON). Numbers come as Lua numbers, not strings.
 * ARGV: 1 now, 2 cutoff (now - ttl), 3 peer key TTL ms (string), 4 downloaded TTL ms
 *       (string), 5 peer_id, 6 event (s|c|x|u: started, completed, stopped, update),
 *       7 seeder (1|0), 8 ep4 (6 bytes or ''), 9 ep6 (18 bytes or ''), 10 key (4 bytes or ''),
 *       11 numwant (per family), 12 want4 (1|0), 13 want6 (1|0), 14 with ids (1|0, unused: the store cuts ids from the records),
 *       15 refresh period ms (torrent index entry and key TTLs), 16 random seed,
 *       17 now as the 6 record bytes (big-endian ms), 18 now as a decimal string
 * Returns: { status (0 ok, 1 key mismatch), complete, incomplete, downloaded,
 *            sample4, sample6, index (1 = refresh the torrent index) }
 * sample4/6: { take, chunks, take, chunks } per sampled set: chunks is a list of
 * strings of whole peer records (37 / 49 bytes), bucket strings as they were read or
 * cut from one; the store takes the first `take` records that are not the
 * requester. Cutting records into endpoints in Lua (a string per peer) cost more
 * Redis CPU than the rest of the script; and the chunks are not joined, because
 * every string Lua makes is hashed byte by byte (Redis' Lua hashes whole strings),
 * which was a fifth of Redis' CPU per announce.
 *
 * A steady re-announce is three calls: HGET meta, HGET the peer's bucket in the
 * set it announces to, HSET that bucket and meta; sampling adds one HMGET of a
 * run of consecutive buckets per sampled set (a bucket already read is reused).
 */
const ANNOUNCE_ONE = `
local now = tonumber(ARGV[1])
local id = ARGV[5]
local event = ARGV[6]
local seeder = ARGV[7] == '1'
local ep4, ep6, key = ARGV[8], ARGV[9], ARGV[10]
local new = seeder and 1 or 2
math.randomseed(tonumber(ARGV[16]))

if not readMeta() then
  local d = redis.call('GET', K[3])
  meta = { tonumber(d or '0'), 0, -1, 0, math.random(1, 2147483646), 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1 }
  saltStr = string.format('%d', meta[5])
  for k = 1, 4 do cache[fname(k, 0)] = '' end
end
prune(tonumber(ARGV[2]))

local function counts(status)
  return { status, meta[7], meta[8], meta[1], {}, {}, 0 }
end

-- The stored peer, if any: where its records are (at[set] = offset in its bucket).
local h = hashOf(id)
-- fields[k]: the peer's bucket in set k, named on first use.
local fields = setmetatable({}, { __index = function(t, k)
  local f = fname(k, addr(h, meta[12 + k]))
  t[k] = f
  return f
end })
local at = {}
local cls = nil
local function look(k)
  if meta[8 + k] > 0 and at[k] == nil then
    at[k] = find(bucket(fields[k]), id, RS[k]) or false
    if at[k] then cls = (k - 1) % 2 + 1 end
  end
end
-- The set the announce names (its class, the family it carries) first: a steady
-- re-announce reads that one bucket. The other family only for a dual-stack peer
-- (flag 4); the other sets, in one HMGET, only when the peer is not there.
local first = new + ((ep4 == '' and ep6 ~= '') and 2 or 0)
look(first)
if cls then
  if math.floor(string.byte(cache[fields[first]], at[first] + 26) / 4) % 2 == 1 then
    look(first <= 2 and first + 2 or first - 2)
  end
else
  local rest = {}
  for k = 1, 4 do
    if k ~= first and meta[8 + k] > 0 then rest[#rest + 1] = fields[k] end
  end
  load(rest)
  for k = 1, 4 do look(k) end
end
-- Its stored endpoints, flags and key.
local old4, old6, flags, storedKey = nil, nil, 0, ''
if cls then
  local s4, s6 = at[cls], at[cls + 2]
  if s4 then old4 = string.sub(cache[fields[cls]], s4 + 31, s4 + 36) end
  if s6 then old6 = string.sub(cache[fields[cls + 2]], s6 + 31, s6 + 48) end
  local k = s4 and cls or cls + 2
  local s, off = cache[fields[k]], at[k]
  flags = string.byte(s, off + 26)
  if math.floor(flags / 2) % 2 == 1 then storedKey = string.sub(s, off + 27, off + 30) end
end

-- Anti-hijack: a keyed peer may only be changed with its key or from its address.
if storedKey ~= '' and key ~= storedKey then
  local same = (old4 and ep4 ~= '' and string.sub(old4, 1, 4) == string.sub(ep4, 1, 4))
    or (old6 and ep6 ~= '' and string.sub(old6, 1, 16) == string.sub(ep6, 1, 16))
  if not same then
    flush()
    return counts(1)
  end
end

-- Removes the peer's records from its current class.
local function remove()
  for _, k in ipairs({ cls, cls + 2 }) do
    local off = at[k]
    if off then
      local s = cache[fields[k]]
      dropped(k, string.byte(s, off + 26))
      put(fields[k], string.sub(s, 1, off - 1) .. string.sub(s, off + RS[k]))
      at[k] = nil
    end
  end
end

local refresh = 0
if event == 'x' then
  if cls then remove() end
else
  -- Upsert. A family the announce does not carry keeps its stored endpoint.
  if ep4 == '' and old4 then ep4 = old4 end
  if ep6 == '' and old6 then ep6 = old6 end
  if key ~= '' then storedKey = key end
  local completed = flags % 2 == 1
  local countIt = event == 'c' and not completed
  if countIt then completed = true end
  local tail = ARGV[17]
    .. string.char((completed and 1 or 0) + (storedKey ~= '' and 2 or 0) + ((ep4 ~= '' and ep6 ~= '') and 4 or 0))
    .. (storedKey ~= '' and storedKey or '\\0\\0\\0\\0')
  if cls and cls ~= new then
    remove()
    cls = nil
  end
  if not cls then meta[6 + new] = meta[6 + new] + 1 end
  local grew = {}
  for fam = 4, 6, 2 do
    local ep = fam == 4 and ep4 or ep6
    if ep ~= '' then
      local k = new + (fam == 6 and 2 or 0)
      local f, size, off = fields[k], RS[k], at[k]
      local s = bucket(f)
      -- The bucket's expiry entry must stay <= every time in it: it already is when some
      -- record there (the first, or this peer's old one) is no newer than now.
      local covered = (#s > 0 and readTime(s, 21) <= now) or (off and readTime(s, off + 20) <= now)
      if off then
        put(f, string.sub(s, 1, off - 1) .. id .. tail .. ep .. string.sub(s, off + size))
      else
        put(f, s .. id .. tail .. ep)
        meta[8 + k] = meta[8 + k] + 1
        grew[#grew + 1] = k
      end
      if meta[4] == 1 and not covered then redis.call('ZADD', K[2], 'LT', ARGV[18], f) end
    end
  end
  if meta[3] < 0 or now < meta[3] then meta[3] = now end
  if now > meta[6] then meta[6] = now end
  if countIt then
    meta[1] = meta[1] + 1
    redis.call('SET', K[3], meta[1], 'PX', ARGV[4])
  end
  -- Split one bucket of a set that grew past SPLIT records per bucket.
  for _, k in ipairs(grew) do
    local n = meta[12 + k]
    if meta[8 + k] > SPLIT * n then
      local l = 1
      while l * 2 <= n do l = l * 2 end
      local src, dst = fname(k, n - l), fname(k, n)
      local s, size = bucket(src), RS[k]
      local stay, move, oldStay, oldMove = {}, {}, nil, nil
      for off = 1, #s, size do
        local rec = string.sub(s, off, off + size - 1)
        local t = readTime(rec, 21)
        if addr(hashOf(string.sub(rec, 1, 20)), n + 1) == n then
          move[#move + 1] = rec
          if not oldMove or t < oldMove then oldMove = t end
        else
          stay[#stay + 1] = rec
          if not oldStay or t < oldStay then oldStay = t end
        end
      end
      put(src, table.concat(stay))
      put(dst, table.concat(move))
      meta[12 + k] = n + 1
      if meta[4] == 0 then
        -- First split in this torrent: from now on the expiry zset indexes every bucket
        -- (until now all sets had one bucket; o bounds them all).
        meta[4] = 1
        for j = 1, 4 do
          if meta[8 + j] > 0 then redis.call('ZADD', K[2], meta[3], fname(j, 0)) end
        end
        redis.call('PEXPIRE', K[2], ARGV[3])
      end
      if oldStay then redis.call('ZADD', K[2], oldStay, src) else redis.call('ZREM', K[2], src) end
      if oldMove then redis.call('ZADD', K[2], oldMove, dst) end
    end
  end
  -- Key TTLs make a torrent nobody announces to vanish by itself; they are
  -- refreshed once per period (ARGV[15]), not on every announce. abs(): a clock far
  -- behind the last refresh (another process, a test clock) refreshes too.
  if math.abs(now - meta[2]) >= tonumber(ARGV[15]) then
    refresh = 1
    meta[2] = now
  end
end
-- Sets that shrank (stops, expiry) give back one bucket per announce.
for k = 1, 4 do maybeMerge(k) end

local alive = flush()
if refresh == 1 and alive then
  redis.call('PEXPIRE', K[1], ARGV[3])
  if meta[4] == 1 then redis.call('PEXPIRE', K[2], ARGV[3]) end
  if meta[1] > 0 then redis.call('PEXPIRE', K[3], ARGV[4]) end
end
local result = counts(0)
result[7] = refresh
local numwant = tonumber(ARGV[11])
if numwant <= 0 or event == 'x' then return result end

-- Samples up to numwant peers of one family over the union of the sets (leechers,
-- and seeders unless the requester seeds): each set gives a run of whole consecutive buckets from
-- a random one (a bucket is a hash-random subset of its set), the last one cut at
-- a random record. One record more is taken from the requester's own set: the
-- store skips the requester, and the extra one stands in for it.
local function sample(sets, mine)
  local avail, total = {}, 0
  for i, k in ipairs(sets) do
    avail[i] = meta[8 + k] - ((k == mine) and 1 or 0)
    total = total + avail[i]
  end
  local want = math.min(numwant, total)
  if want <= 0 then return {} end
  -- How many from each set: all when all are wanted; otherwise proportional to the
  -- sets' sizes with randomized rounding (the expectation of an exact draw, at O(1):
  -- drawing peer by peer cost about 12 µs of Lua per announce).
  local take = avail
  if want < total then
    if #sets == 1 then
      take = { want }
    else
      local x = want * avail[1] / total
      local a = math.floor(x)
      if math.random() < x - a then a = a + 1 end
      a = math.max(want - avail[2], math.min(a, avail[1]))
      take = { a, want - a }
    end
  end
  local out = {}
  for i, k in ipairs(sets) do
    local chunks = {}
    local need = take[i] + ((k == mine) and 1 or 0)
    if take[i] > 0 then
      local n, size = meta[12 + k], RS[k]
      local per = meta[8 + k] / n
      local start = math.random(0, n - 1)
      local got, visited = 0, 0
      while got < need and visited < n do
        local batch = math.min(n - visited, math.ceil((need - got) / per) + 1)
        local fs = {}
        for j = 0, batch - 1 do fs[#fs + 1] = fname(k, (start + visited + j) % n) end
        load(fs)
        visited = visited + batch
        for _, f in ipairs(fs) do
          local s = cache[f]
          local cnt = #s / size
          if got + cnt <= need then
            if cnt > 0 then chunks[#chunks + 1] = s end
            got = got + cnt
          else
            local a = math.random(0, cnt - 1) * size
            local e = a + (need - got) * size
            chunks[#chunks + 1] = string.sub(s, a + 1, e)
            if e > #s then chunks[#chunks + 1] = string.sub(s, 1, e - #s) end
            got = need
          end
          if got >= need then break end
        end
      end
    end
    out[#out + 1] = take[i]
    out[#out + 1] = chunks
  end
  return out
end

if ARGV[12] == '1' then
  local sets = { 2 }
  if not seeder then sets[2] = 1 end
  result[5] = sample(sets, ep4 ~= '' and new or nil)
end
if ARGV[13] == '1' then
  local sets = { 4 }
  if not seeder then sets[2] = 3 end
  result[6] = sample(sets, ep6 ~= '' and new + 2 or nil)
end
return result
`;

/**
 * announce: a batch of announces in one call (the store sends every announce of
 * an event-loop turn together, see announce-batch.ts), run one after another as
 * if each were its own script. One EVALSHA per batch, not per announce: Redis
 * reads, looks up and answers one command, and the tracker encodes and decodes
 * one. On a cluster a batch holds one torrent's announces (one hash slot).
 *
 * KEYS: the three keys of each announce's torrent (torrentKeys()), in batch order.
 * ARGV: 1 now, 2 cutoff (now - ttl), 3 peer key TTL ms, 4 downloaded TTL ms,
 *       5 refresh period ms, 6 now as the 6 record bytes, 7 the announces, packed
 *       56 bytes each, one after another (announce-batch.ts packAnnounces()):
 *   1..20 peer_id  21 event (s|c|x|u)  22 flags (1 seeder, 2 want4, 4 want6,
 *   8 has ep4, 16 has ep6, 32 has key)  23..24 numwant (big-endian)
 *   25..28 random seed (big-endian)  29..32 key  33..38 ep4  39..56 ep6
 * Returns one announce reply (above) per announce, in batch order; an announce
 * that raised an error gets { -1, message } instead, and the others still run.
 */
export const ANNOUNCE_SCRIPT = `
${COMMON}
local function announceOne(ARGV)
${ANNOUNCE_ONE}
end

local function bit(b, v) return math.floor(b / v) % 2 == 1 end
local all = ARGV[7]
local now, cutoff, refresh = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[5])
local out = {}
for i = 0, #all / 56 - 1 do
  local o = i * 56
  local flags = string.byte(all, o + 22)
  local hi, lo = string.byte(all, o + 23, o + 24)
  local s1, s2, s3, s4 = string.byte(all, o + 25, o + 28)
  local k = i * 3
  begin({ KEYS[k + 1], KEYS[k + 2], KEYS[k + 3] })
  -- pcall: an announce that fails (a key of the wrong type, out of memory) fails alone;
  -- the others of the batch still run, as they would have as separate calls.
  local ok, reply = pcall(announceOne, {
    now, cutoff, ARGV[3], ARGV[4],
    string.sub(all, o + 1, o + 20), string.sub(all, o + 21, o + 21), bit(flags, 1) and '1' or '0',
    bit(flags, 8) and string.sub(all, o + 33, o + 38) or '', bit(flags, 16) and string.sub(all, o + 39, o + 56) or '',
    bit(flags, 32) and string.sub(all, o + 29, o + 32) or '',
    hi * 256 + lo, bit(flags, 2) and '1' or '0', bit(flags, 4) and '1' or '0', '0',
    refresh, ((s1 * 256 + s2) * 256 + s3) * 256 + s4, ARGV[6], ARGV[1],
  })
  if not ok then
    reply = { -1, type(reply) == 'table' and tostring(reply.err) or tostring(reply) }
  end
  out[#out + 1] = reply
end
return out
`;

/**
 * counts: prune torrents, then count each (scrape, scans, totals).
 * KEYS: the three keys of each torrent (torrentKeys()); on a cluster, of one torrent.
 * ARGV: 1 cutoff. Returns per torrent { seeders, leechers, peers4, peers6, downloaded, last announce }.
 * Many torrents per call for the same reason announces are batched (see ANNOUNCE_SCRIPT).
 */
export const COUNT_SCRIPT = `
${COMMON}
local cutoff = tonumber(ARGV[1])
local function countOne()
  if not readMeta() then
    return { 0, 0, 0, 0, tonumber(redis.call('GET', K[3]) or '0'), 0 }
  end
  local o = meta[3]
  prune(cutoff)
  if o ~= meta[3] then flush() end
  return { meta[7], meta[8], meta[9] + meta[10], meta[11] + meta[12], meta[1], meta[6] }
end

local out = {}
for i = 1, #KEYS, 3 do
  begin({ KEYS[i], KEYS[i + 1], KEYS[i + 2] })
  out[#out + 1] = countOne()
end
return out
`;

/**
 * peers: prune one torrent, then list up to `limit` live peers (stats detail view).
 * ARGV: 1 cutoff, 2 limit. Returns a flat list: peer_id, seeder (1|0), last seen, ep4|'', ep6|'' per peer.
 */
export const PEERS_SCRIPT = `${COMMON}
begin(KEYS)
if not readMeta() then return {} end
local o = meta[3]
prune(tonumber(ARGV[1]))
if o ~= meta[3] then flush() end
local limit = tonumber(ARGV[2])
local out = {}
local function emit(pid, cls, t, e4, e6)
  out[#out + 1] = pid
  out[#out + 1] = cls == 1 and 1 or 0
  out[#out + 1] = t
  out[#out + 1] = e4
  out[#out + 1] = e6
  limit = limit - 1
end
for cls = 1, 2 do
  -- IPv4 records (with the IPv6 endpoint of dual-stack peers), then IPv6-only peers.
  for k = cls, cls + 2, 2 do
    for b = 0, meta[12 + k] - 1 do
      if limit <= 0 then return out end
      local s, size = bucket(fname(k, b)), RS[k]
      for off = 1, #s, size do
        if limit <= 0 then return out end
        local pid = string.sub(s, off, off + 19)
        local dual = math.floor(string.byte(s, off + 26) / 4) % 2 == 1
        local ep = string.sub(s, off + 31, off + 30 + EPL[k])
        if k == cls then
          local e6 = ''
          if dual then
            local f6 = fname(cls + 2, addr(hashOf(pid), meta[14 + cls]))
            local s6 = bucket(f6)
            local at6 = find(s6, pid, RS[cls + 2])
            if at6 then e6 = string.sub(s6, at6 + 31, at6 + 48) end
          end
          emit(pid, cls, readTime(s, off + 20), ep, e6)
        elseif not dual then
          emit(pid, cls, readTime(s, off + 20), '', ep)
        end
      end
    end
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
