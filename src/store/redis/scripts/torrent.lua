--[[
  torrent.lua: one torrent's keys, meta and peer buckets. Not a script of its own:
  scripts.ts puts it in front of announce.lua, count.lua and peers.lua (Redis runs
  each script as one chunk; there is no require). Every script works on the keys
  of one torrent at a time, all in the slot of the
  `{<hex info_hash>}` hash tag (keys.ts), so each call is atomic and runs unchanged on
  Redis Cluster (where a batch holds the torrents of one slot).

  A torrent's keys (TorrentBuckets.scriptKeys() in keys.ts; begin() takes them in this order):
    p  hash    field 'm': the meta (msgpack array, META below);
               field '<set>:<bucket>': that bucket's peer records, concatenated
    e  zset    the expiry index, only once a set has split into more than one bucket:
               bucket field -> a lower bound of its records' last-seen times (ms)
    d  string  the downloaded count, only once > 0; it outlives the peers (30 days)
    t  hash    a bucket of torrents of the hash slot (one of SUB_BUCKETS in keys.ts, chosen
               by a keyed hash, shared by its torrents, in their slot):
               info_hash (20 bytes) -> the torrent INLINE, or a MARKER when keys p (e) hold it
                 (marker() below: its last key renewal, and its counts for the scans; a
                 marker older than the key TTL belongs to a torrent whose keys expired);
               field 'r': when the bucket's TTL and index entry were last renewed (ms);
               field 'c': the HSCAN cursor of the bounded prune (pruneBucket), while not 0

  Inline torrents: a torrent with one peer record (one peer, one family: most torrents
  of a public tracker) has no keys of its own. Its bucket field holds one byte, the set
  (1..4) + HAS_DOWNLOADED when key d exists, then the record, then (with HAS_DOWNLOADED)
  the downloaded count in decimal: 38 to 64 bytes, so the bucket stays listpack-encoded
  (values <= 64 bytes). Key d still holds the count (it outlives the peers); the copy
  spares reading it on every announce. Its meta is implied: one peer, one bucket per
  set, oldest = last announce = key renewal = the record's last-seen time. flush()
  stores a torrent inline whenever it comes down to one record in sets of one bucket
  (deleting p and e), and in p with a marker in t as soon as it has more.

  Sets: SEEDERS4, LEECHERS4, SEEDERS6, LEECHERS6 = 1..4, that is class + (IPv6 and 2 or 0)
  with class SEEDER = 1, LEECHER = 2. A dual-stack peer has one record in each family's
  set of its class, both with the DUAL_STACK flag and the same last-seen time.

  Record (fixed size per set, so a bucket is an array of records):
    peer_id (20) .. last seen ms (6, big endian) .. flags (1) .. key (4, zeros if none)
    .. endpoint (6: compact IPv4, 18: compact IPv6) = 37 or 49 bytes
  flags: COMPLETED (this peer's `completed` was counted), KEYED (the key is real),
         DUAL_STACK (the peer also has a record in the other family's set).

  Buckets: each set is a linear hash table (Litwin) over sha1(salt .. peer_id): with
  n buckets and l the largest power of two <= n, a peer is in bucket h mod 2l, or
  h mod l when that is >= n. One bucket is split when the set averages more than SPLIT
  records per bucket, and one merged back below MERGE, so resizing costs one bucket's
  work per announce, never the whole swarm's. The salt is random per torrent: clients
  cannot aim peer ids at one bucket.
]]

local SPLIT, MERGE = 16, 4

-- Meta: a msgpack array; slot numbers are the stored format.
local DOWNLOADED = 1     -- completions counted (mirrored in key d)
local REFRESHED = 2      -- when key TTLs (and the marker) were last renewed (ms)
local OLDEST = 3         -- a lower bound of every last-seen time; -1: no peers. The
                         -- prune runs only when something may have expired.
local INDEXED = 4        -- 1 once the expiry zset (key e) is in use
local SALT = 5           -- the bucket hash's salt
local LAST_ANNOUNCE = 6  -- ms
local PEERS = 6          -- meta[PEERS + class]: seeders (slot 7), leechers (slot 8)
local RECORDS = 8        -- meta[RECORDS + set]: records in set 1..4 (slots 9..12)
local BUCKETS = 12       -- meta[BUCKETS + set]: buckets of set 1..4 (slots 13..16)

local SEEDER, LEECHER = 1, 2
local RECORD_SIZE = { 37, 37, 49, 49 }
local ENDPOINT_SIZE = { 6, 6, 18, 18 }
-- Where a record's fields start, counted from its first byte (peer_id is at +0, 20 bytes).
local SEEN_AT, FLAGS_AT, KEY_AT, ENDPOINT_AT = 20, 26, 27, 31
local COMPLETED, KEYED, DUAL_STACK = 1, 2, 4
local NO_KEY = '\0\0\0\0'

local function hasFlag(flags, flag)
  return math.floor(flags / flag) % 2 == 1
end
local function classOf(set)
  return (set - 1) % 2 + 1
end
-- The same class's set in the other address family.
local function otherFamily(set)
  return set <= 2 and set + 2 or set - 2
end

-- The torrent being worked on: its keys, its meta and the buckets read so far
-- (cache: field -> bytes, '' = empty or missing; dirty: fields to write back).
-- Script-level and reset by begin() for each torrent, so that the functions
-- below are made once per call, not once per announce of a batch.
-- stored: how the torrent is stored now: INLINE in its bucket, OWN keys, or nil (not at all).
-- bucketRenewed: the bucket's field 'r' (nil: missing), once bucketRead (readMeta() reads
-- it only for a torrent without keys of its own).
local peersKey, expiryKey, downloadedKey, bucketKey, torrentField
local meta, cache, dirty, saltStr, stored, bucketRenewed, bucketRead = nil, nil, nil, '', nil, nil, false
local INLINE, OWN = 1, 2
local HAS_DOWNLOADED = 16
-- HSCAN steps of a bucket prune, fields per step (a hint to Redis; a listpack-encoded
-- hash, at most 512 fields by default, comes whole in one step).
local PRUNE_STEPS, PRUNE_STEP = 4, 128
-- True in announce.lua, which makes sure the bucket has its TTL after every write that
-- may have made it (touchBucket). The other scripts write into a bucket only where it has
-- a TTL: a torrent inline only into a bucket with field 'r' set, a marker only over an
-- entry already there (a bucket made without a TTL would never expire).
local renewsBuckets = false
-- What the torrent's marker shows, as read with its meta (markerShows()): flush()
-- rewrites the marker only when this changed. shown[1] == nil: not read (no marker yet).
-- markerWritten: flush() wrote it (announce.lua then checks the bucket's TTL).
local shown, markerWritten = {}, false
local function begin(p, e, d, t, infoHash)
  peersKey, expiryKey, downloadedKey, bucketKey, torrentField = p, e, d, t, infoHash
  meta, cache, dirty, saltStr, stored, bucketRenewed, bucketRead = nil, {}, {}, '', nil, nil, false
  shown[1], markerWritten = nil, false
end

-- The field name of bucket n of set k, 'k:n', made once per call: Lua turns a number
-- into a string with printf's floating-point conversion, costly at this rate.
local FIELD_NAMES = { {}, {}, {}, {} }
local function fieldName(k, n)
  local names = FIELD_NAMES[k]
  local f = names[n]
  if not f then
    f = string.format('%d:%d', k, n)
    names[n] = f
  end
  return f
end

-- Reads the bucket fields not cached yet, in one HMGET.
local function load(fields)
  local need = {}
  for _, f in ipairs(fields) do
    if cache[f] == nil then need[#need + 1] = f end
  end
  if #need > 0 then
    local got = redis.call('HMGET', peersKey, unpack(need))
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

local function readTime(s, pos)
  local a, b, c, d, e, f = string.byte(s, pos, pos + 5)
  return ((((a * 256 + b) * 256 + c) * 256 + d) * 256 + e) * 256 + f
end
local function seenAt(s, off)
  return readTime(s, off + SEEN_AT)
end

-- A bucket value: an inline torrent (its first byte the set, 1..4, maybe + HAS_DOWNLOADED),
-- else a marker (first byte 0; an old layout's may be empty).
local function isInline(v)
  local tag = string.byte(v, 1)
  return tag ~= nil and tag ~= 0
end
-- A marker's renewal time (0 for an old empty one).
local function markerTime(v)
  return #v >= 7 and readTime(v, 2) or 0
end

-- The marker of a torrent with keys of its own, 41 bytes, big-endian integers:
--   1 0 (a marker)    2..7 last key renewal (meta REFRESHED)    8..13 meta OLDEST (0: -1)
--   14..19 last announce    20..23 seeders    24..27 leechers    28..31 IPv4 records
--   32..35 IPv6 records    36..41 downloaded
-- A scan reads the counts from it (bucket-entry.ts) while OLDEST is after the peer TTL's
-- cutoff (no record can have expired since it was written), and asks count.lua otherwise;
-- the prune that count.lua then runs writes a marker with the new OLDEST. Written by
-- flush() when any of these but the last announce changed (a steady re-announce does not
-- rewrite it), so a scan's last announce may be up to a refresh period old.
-- An older marker (7 bytes: the renewal only) is counted by count.lua until rewritten.
local function markerShows(into)
  into[1], into[2], into[3] = meta[REFRESHED], meta[OLDEST], meta[DOWNLOADED]
  into[4], into[5] = meta[PEERS + SEEDER], meta[PEERS + LEECHER]
  into[6], into[7] = meta[RECORDS + 1] + meta[RECORDS + 2], meta[RECORDS + 3] + meta[RECORDS + 4]
end
local latest = {}
local function markerChanged()
  if shown[1] == nil then return true end
  markerShows(latest)
  for i = 1, 7 do
    if latest[i] ~= shown[i] then return true end
  end
  return false
end
local function marker()
  return struct.pack('>BI6I6I6I4I4I4I4I6', 0, meta[REFRESHED], math.max(meta[OLDEST], 0), meta[LAST_ANNOUNCE],
    meta[PEERS + SEEDER], meta[PEERS + LEECHER], meta[RECORDS + 1] + meta[RECORDS + 2],
    meta[RECORDS + 3] + meta[RECORDS + 4], meta[DOWNLOADED])
end
-- The downloaded count of an inline torrent (v, set k), tag >= HAS_DOWNLOADED: its copy in
-- v, else (a value written without one) key d.
local function inlineDownloaded(v, k)
  return tonumber(string.sub(v, 2 + RECORD_SIZE[k])) or tonumber(redis.call('GET', downloadedKey) or '0') or 0
end
-- The bucket value of an inline torrent: its only record, in set k.
local function inlineValue(k, record)
  if meta[DOWNLOADED] > 0 then
    return string.char(k + HAS_DOWNLOADED) .. record .. string.format('%d', meta[DOWNLOADED])
  end
  return string.char(k) .. record
end

-- The meta of an inline torrent (bucket value v), its record cached as bucket 0 of its set.
local function inlineMeta(v)
  local tag = string.byte(v, 1)
  local k = tag % HAS_DOWNLOADED
  local record = string.sub(v, 2, 1 + RECORD_SIZE[k])
  local seen = seenAt(record, 1)
  local downloaded = tag >= HAS_DOWNLOADED and inlineDownloaded(v, k) or 0
  meta = { downloaded, seen, seen, 0, math.random(1, 2147483646), seen, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1 }
  meta[PEERS + classOf(k)] = 1
  meta[RECORDS + k] = 1
  for j = 1, 4 do cache[fieldName(j, 0)] = '' end
  cache[fieldName(k, 0)] = record
end

-- Reads the torrent (the meta in key p, or else inline from its bucket); false when
-- it has no peers. A marker whose key p is gone (expired) is dropped.
local function readMeta()
  local raw = redis.call('HGET', peersKey, 'm')
  if raw then
    stored = OWN
    meta = cmsgpack.unpack(raw)
    markerShows(shown)
  else
    local got = redis.call('HMGET', bucketKey, torrentField, 'r')
    local v = got[1]
    bucketRenewed, bucketRead = tonumber(got[2] or ''), true
    if not v then return false end
    if not isInline(v) then
      redis.call('HDEL', bucketKey, torrentField)
      return false
    end
    stored = INLINE
    inlineMeta(v)
  end
  saltStr = string.format('%d', meta[SALT])
  return true
end
local function flagsAt(s, off)
  return string.byte(s, off + FLAGS_AT)
end
local function hashOf(id)
  return tonumber(string.sub(redis.sha1hex(saltStr .. id), 1, 7), 16)
end
-- The bucket of hash h in a set of n buckets (linear hashing).
local function addr(h, n)
  if n == 1 then return 0 end
  local l = 1
  while l * 2 <= n do l = l * 2 end
  local b = h % (2 * l)
  if b >= n then b = b - l end
  return b
end
-- The offset (1-based) of id's record in bucket s of records of `size` bytes, or nil.
local function find(s, id, size)
  local from = 1
  while true do
    local at = string.find(s, id, from, true)
    if not at then return nil end
    if (at - 1) % size == 0 then return at end
    from = at + 1
  end
end

-- One record fewer in set k; one peer fewer too, unless it is the IPv6 half of a dual-stack peer.
local function dropped(k, flags)
  meta[RECORDS + k] = meta[RECORDS + k] - 1
  if k <= 2 or not hasFlag(flags, DUAL_STACK) then
    local class = classOf(k)
    meta[PEERS + class] = meta[PEERS + class] - 1
  end
end

-- Drops the records of bucket f (set k) last seen at or before cutoff.
-- Returns the oldest remaining last-seen time, or nil when the bucket is empty.
local function dropExpired(f, k, cutoff)
  local s = bucket(f)
  local size = RECORD_SIZE[k]
  local keep, oldest, gone = {}, nil, false
  for off = 1, #s, size do
    local t = seenAt(s, off)
    if t > cutoff then
      keep[#keep + 1] = string.sub(s, off, off + size - 1)
      if not oldest or t < oldest then oldest = t end
    else
      gone = true
      dropped(k, flagsAt(s, off))
    end
  end
  if gone then put(f, table.concat(keep)) end
  return oldest
end

-- Removes every record last seen at or before cutoff, but only when the oldest may be
-- that old (meta OLDEST). Small torrents (one bucket per set) are filtered whole;
-- split ones through the expiry zset, which names the buckets that may hold one.
local function prune(cutoff)
  if meta[OLDEST] < 0 or meta[OLDEST] > cutoff then return end
  local oldest = -1
  if meta[INDEXED] == 1 then
    while true do
      local fs = redis.call('ZRANGEBYSCORE', expiryKey, '-inf', cutoff, 'LIMIT', 0, 100)
      if #fs == 0 then break end
      load(fs)
      for _, f in ipairs(fs) do
        local left = dropExpired(f, tonumber(string.sub(f, 1, 1)), cutoff)
        if left then
          redis.call('ZADD', expiryKey, left, f)
        else
          redis.call('ZREM', expiryKey, f)
        end
      end
      if #fs < 100 then break end
    end
    local first = redis.call('ZRANGE', expiryKey, 0, 0, 'WITHSCORES')[2]
    if first then oldest = tonumber(first) end
  else
    local fs = {}
    for k = 1, 4 do
      if meta[RECORDS + k] > 0 then fs[#fs + 1] = fieldName(k, 0) end
    end
    load(fs)
    for k = 1, 4 do
      if meta[RECORDS + k] > 0 then
        local left = dropExpired(fieldName(k, 0), k, cutoff)
        if left and (oldest < 0 or left < oldest) then oldest = left end
      end
    end
  end
  meta[OLDEST] = oldest
end

-- The set of a torrent's only record when it may be stored inline (one record in a
-- set of one bucket), else nil.
local function inlineSet()
  local only = nil
  for k = 1, 4 do
    local n = meta[RECORDS + k]
    if n > 1 or (n == 1 and (only or meta[BUCKETS + k] > 1)) then return nil end
    if n == 1 then only = k end
  end
  return only
end

-- Writes the torrent back: inline in its bucket when it has one record, else meta and
-- the changed buckets in key p (empty ones: HDEL), with a '' marker in the bucket.
-- A torrent left without peers is deleted (its downloaded count lives on in key d).
-- Returns false when it deleted the torrent.
local function flush()
  if meta[PEERS + SEEDER] + meta[PEERS + LEECHER] == 0 then
    if stored == OWN then redis.call('DEL', peersKey, expiryKey) end
    if stored then redis.call('HDEL', bucketKey, torrentField) end
    stored = nil
    return false
  end
  local only = inlineSet()
  if only and stored ~= INLINE and not renewsBuckets and not bucketRead then
    bucketRenewed, bucketRead = tonumber(redis.call('HGET', bucketKey, 'r') or ''), true
  end
  if only and (stored == INLINE or bucketRenewed or renewsBuckets) then
    redis.call('HSET', bucketKey, torrentField, inlineValue(only, bucket(fieldName(only, 0))))
    if stored == OWN then redis.call('DEL', peersKey, expiryKey) end
    stored = INLINE
    return true
  end
  if stored ~= OWN then
    -- Out of the bucket into keys of its own: every record is written, not only changed
    -- ones, and its marker. Its key TTLs are written by the renewal that follows (announce.lua).
    for k = 1, 4 do
      if meta[RECORDS + k] > 0 then dirty[fieldName(k, 0)] = true end
    end
    stored = OWN
    shown[1] = nil
  end
  -- Outside announce.lua, only over an entry already there: a bucket made here would
  -- have no TTL, and a torrent an older layout wrote gets its entry with its next renewal.
  if markerChanged() and (renewsBuckets or redis.call('HEXISTS', bucketKey, torrentField) == 1) then
    redis.call('HSET', bucketKey, torrentField, marker())
    markerWritten = true
  end
  -- In batches: unpack() is limited by Lua's C stack (8,000 values), and a prune
  -- after a long silence may rewrite thousands of buckets of a big swarm at once.
  local set = { 'HSET', peersKey, 'm', cmsgpack.pack(meta) }
  local del = { 'HDEL', peersKey }
  for f in pairs(dirty) do
    local s = cache[f]
    if s == '' then
      del[#del + 1] = f
      if #del >= 2000 then
        redis.call(unpack(del))
        del = { 'HDEL', peersKey }
      end
    else
      set[#set + 1] = f
      set[#set + 1] = s
      if #set >= 2000 then
        redis.call(unpack(set))
        set = { 'HSET', peersKey }
      end
    end
  end
  if #set > 2 then redis.call(unpack(set)) end
  if #del > 2 then redis.call(unpack(del)) end
  return true
end

-- Prunes the torrent when something may have expired, and writes it back if so.
-- Returns false when the torrent does not exist.
local function pruneAndFlush(cutoff)
  if not readMeta() then return false end
  local oldest = meta[OLDEST]
  prune(cutoff)
  if oldest ~= meta[OLDEST] then flush() end
  return true
end

-- Whether bucket value v (of field f) is dead: an inline torrent last seen at or before
-- cutoff, or a marker older than markerCutoff (its keys expired). A scan makes the same
-- test where it reads the entries (readBucketEntry in bucket-entry.ts).
local function deadEntry(f, v, cutoff, markerCutoff)
  if #f ~= 20 then return false end
  if isInline(v) then return seenAt(v, 2) <= cutoff end
  return markerTime(v) < markerCutoff
end

-- Drops a bucket's dead entries (deadEntry), in at most PRUNE_STEPS HSCAN steps from the
-- cursor kept in its field 'c': bounded work however big the bucket grew.
local function pruneBucket(t, cutoff, markerCutoff)
  local saved = redis.call('HGET', t, 'c')
  local cursor = saved or '0'
  for _ = 1, PRUNE_STEPS do
    local got = redis.call('HSCAN', t, cursor, 'COUNT', PRUNE_STEP)
    cursor = got[1]
    local items = got[2]
    local gone = { 'HDEL', t }
    for i = 1, #items, 2 do
      if deadEntry(items[i], items[i + 1], cutoff, markerCutoff) then gone[#gone + 1] = items[i] end
    end
    if #gone > 2 then redis.call(unpack(gone)) end
    if cursor == '0' then break end
  end
  if cursor == '0' then
    if saved then redis.call('HDEL', t, 'c') end
  else
    redis.call('HSET', t, 'c', cursor)
  end
end
