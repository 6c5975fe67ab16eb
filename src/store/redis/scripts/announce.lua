--[[
  announce.lua: a batch of announces in one call, run one after another exactly as if
  each were a script of its own (follows torrent.lua). The store sends an event-loop
  turn's announces together (announce-batch.ts): one EVALSHA per batch, so Redis reads,
  looks up and answers one command, and the tracker encodes and decodes one. On a
  cluster a batch holds the announces of one hash slot (any torrents of it).

  KEYS: for each announce, its torrent's keys p, e, d, t (torrent.lua), in batch order.
  ARGV:
    1 now (ms)
    2 cutoff: now - peer TTL; a record last seen at or before it has expired
    3 TTL of keys p, e and t (ms)
    4 TTL of key d, the downloaded count (ms)
    5 refresh period (ms): key TTLs and the index entry of the bucket are renewed at most this often
    6 now as the 6 bytes of a record's last-seen field
    7 the announces, 76 bytes each (packAnnounces() in announce-batch.ts):
        1..20 peer_id    21 event: s started, c completed, x stopped, u update
        22 flags: 1 seeder, 2 wants IPv4 peers, 4 wants IPv6 peers,
                  8 has an IPv4 endpoint, 16 has an IPv6 endpoint, 32 has a key
        23..24 numwant per family (big endian)    25..28 random seed (big endian)
        29..32 key    33..38 IPv4 endpoint    39..56 IPv6 endpoint    57..76 info_hash
  Returns: per announce, in batch order,
    { status (0 ok, 1 key mismatch), seeders, leechers, downloaded, sample4, sample6,
      index (1: the store should refresh the bucket's entry in the torrent index) },
    or { -1, error message } for an announce that raised an error (the others still run).
    sample4 / sample6: a list of strings of whole peer records (37 / 49 bytes): whole
    buckets as read, or cut from one. Together they hold exactly the sampled peers,
    never the requester. The store cuts the endpoints out: cutting them in Lua (a string
    per peer) cost more Redis CPU than the rest of the script, and the strings are not
    joined, because Redis' Lua hashes every new string byte by byte.
  Complexity: per announce, O(records of the peer's bucket, about SPLIT) plus the
    sampled buckets (about numwant records); a prune after a long silence touches
    every expired bucket; resizing is one split or up to 8 merges per set.
    A steady re-announce of a torrent with its own keys is HGET meta, HGET the peer's
    bucket, HSET that bucket and meta; sampling adds one HMGET of consecutive buckets per
    sampled set. An inline torrent's is HGET meta (a miss), HMGET of its bucket entry and
    the bucket's field 'r', HSET of its entry (its downloaded count rides along in it).
    An announce that changes a torrent's counts (a peer joins, leaves, completes or
    expires) also HSETs its marker (own keys) and HGETs the bucket's 'r'. Once per
    refresh period per torrent: PEXPIRE of its keys, HSET of its marker (own keys)
    and HGET of the bucket's 'r'. Once per refresh period per bucket, a bounded prune of
    its dead entries (PRUNE_STEPS HSCAN steps from a kept cursor, HDEL) and its TTL
    renewed.
]]

local OK, KEY_MISMATCH = 0, 1
local STOPPED, COMPLETED_EVENT = 'x', 'c'
local PACKED_SIZE = 76
-- Packed announce flags.
local IS_SEEDER, WANTS4, WANTS6, HAS_EP4, HAS_EP6, HAS_KEY = 1, 2, 4, 8, 16, 32

local now, cutoff = tonumber(ARGV[1]), tonumber(ARGV[2])
local keyTtl, downloadedTtl, refreshPeriod = ARGV[3], ARGV[4], tonumber(ARGV[5])
local keyTtlMs = tonumber(keyTtl)
local nowBytes, nowString = ARGV[6], ARGV[1]
renewsBuckets = true

-- The announcing peer, reset by announceOne(): its id and bucket hash, the bucket
-- field it has (or would have) in each set, where its records are (at[set]: offset
-- in that bucket, false: looked and not there) and its class once found.
local peer

-- The peer's bucket field in set k, as of the bucket count when first asked.
local function peerField(k)
  local f = peer.fields[k]
  if not f then
    f = fieldName(k, addr(peer.hash, meta[BUCKETS + k]))
    peer.fields[k] = f
  end
  return f
end

local function look(k)
  if meta[RECORDS + k] > 0 and peer.at[k] == nil then
    peer.at[k] = find(bucket(peerField(k)), peer.id, RECORD_SIZE[k]) or false
    if peer.at[k] then peer.class = classOf(k) end
  end
end

-- Finds the peer's records. The set the announce names (its class, the family it
-- carries) first: a steady re-announce reads that one bucket. The other family only
-- for a dual-stack record; the other sets, in one HMGET, only when it is not there.
-- Then reads its stored endpoints, flags and key.
local function locate(first)
  look(first)
  if peer.class then
    if hasFlag(flagsAt(cache[peerField(first)], peer.at[first]), DUAL_STACK) then look(otherFamily(first)) end
  else
    local rest = {}
    for k = 1, 4 do
      if k ~= first and meta[RECORDS + k] > 0 then rest[#rest + 1] = peerField(k) end
    end
    load(rest)
    for k = 1, 4 do look(k) end
  end
  local class = peer.class
  if not class then return end
  local at4, at6 = peer.at[class], peer.at[class + 2]
  if at4 then peer.ep4 = string.sub(cache[peerField(class)], at4 + ENDPOINT_AT, at4 + ENDPOINT_AT + 5) end
  if at6 then peer.ep6 = string.sub(cache[peerField(class + 2)], at6 + ENDPOINT_AT, at6 + ENDPOINT_AT + 17) end
  local k = at4 and class or class + 2
  local s, off = cache[peerField(k)], peer.at[k]
  peer.flags = flagsAt(s, off)
  if hasFlag(peer.flags, KEYED) then peer.key = string.sub(s, off + KEY_AT, off + KEY_AT + 3) end
end

-- Anti-hijack: a keyed peer may only be changed with its key, or from its address.
local function keyAllows(ep4, ep6, key)
  if peer.key == '' or key == peer.key then return true end
  local old4, old6 = peer.ep4, peer.ep6
  return (old4 and ep4 ~= '' and string.sub(old4, 1, 4) == string.sub(ep4, 1, 4))
    or (old6 and ep6 ~= '' and string.sub(old6, 1, 16) == string.sub(ep6, 1, 16))
    or false
end

-- Removes the peer's records from its current class.
local function removePeer()
  local class = peer.class
  for _, k in ipairs({ class, class + 2 }) do
    local off = peer.at[k]
    if off then
      local f = peerField(k)
      local s = cache[f]
      dropped(k, flagsAt(s, off))
      put(f, string.sub(s, 1, off - 1) .. string.sub(s, off + RECORD_SIZE[k]))
      peer.at[k] = nil
    end
  end
  peer.class = nil
end

-- Splits one bucket of set k, if the set grew past SPLIT records per bucket.
local function splitIfFull(k)
  local n = meta[BUCKETS + k]
  if meta[RECORDS + k] <= SPLIT * n then return end
  local l = 1
  while l * 2 <= n do l = l * 2 end
  local src, dst = fieldName(k, n - l), fieldName(k, n)
  local s, size = bucket(src), RECORD_SIZE[k]
  local stay, move, oldestStay, oldestMove = {}, {}, nil, nil
  for off = 1, #s, size do
    local record = string.sub(s, off, off + size - 1)
    local t = seenAt(record, 1)
    if addr(hashOf(string.sub(record, 1, 20)), n + 1) == n then
      move[#move + 1] = record
      if not oldestMove or t < oldestMove then oldestMove = t end
    else
      stay[#stay + 1] = record
      if not oldestStay or t < oldestStay then oldestStay = t end
    end
  end
  put(src, table.concat(stay))
  put(dst, table.concat(move))
  meta[BUCKETS + k] = n + 1
  if meta[INDEXED] == 0 then
    -- The torrent's first split: from now on the expiry zset indexes every bucket
    -- (until now every set had one bucket, which meta OLDEST bounded).
    meta[INDEXED] = 1
    for j = 1, 4 do
      if meta[RECORDS + j] > 0 then redis.call('ZADD', expiryKey, meta[OLDEST], fieldName(j, 0)) end
    end
    redis.call('PEXPIRE', expiryKey, keyTtl)
  end
  if oldestStay then
    redis.call('ZADD', expiryKey, oldestStay, src)
  else
    redis.call('ZREM', expiryKey, src)
  end
  if oldestMove then redis.call('ZADD', expiryKey, oldestMove, dst) end
end

-- Inserts or rewrites the peer's records in the sets of class `class`, moving it there
-- from its old class. A family the announce does not carry keeps its stored endpoint.
local function upsertPeer(class, event, ep4, ep6, key)
  ep4 = ep4 ~= '' and ep4 or peer.ep4 or ''
  ep6 = ep6 ~= '' and ep6 or peer.ep6 or ''
  local storedKey = key ~= '' and key or peer.key
  local completed = hasFlag(peer.flags, COMPLETED)
  local countIt = event == COMPLETED_EVENT and not completed
  if countIt then completed = true end
  local tail = nowBytes
    .. string.char((completed and COMPLETED or 0) + (storedKey ~= '' and KEYED or 0)
      + ((ep4 ~= '' and ep6 ~= '') and DUAL_STACK or 0))
    .. (storedKey ~= '' and storedKey or NO_KEY)
  if peer.class and peer.class ~= class then removePeer() end
  if not peer.class then meta[PEERS + class] = meta[PEERS + class] + 1 end
  local grew = {}
  for k = class, class + 2, 2 do
    local ep = k <= 2 and ep4 or ep6
    if ep ~= '' then
      local f, off = peerField(k), peer.at[k]
      local s = bucket(f)
      -- The bucket's expiry entry must stay <= every time in it: it already is when some
      -- record there (the first, or this peer's old one) is no newer than now.
      local covered = (#s > 0 and seenAt(s, 1) <= now) or (off and seenAt(s, off) <= now)
      if off then
        put(f, string.sub(s, 1, off - 1) .. peer.id .. tail .. ep .. string.sub(s, off + RECORD_SIZE[k]))
      else
        put(f, s .. peer.id .. tail .. ep)
        meta[RECORDS + k] = meta[RECORDS + k] + 1
        grew[#grew + 1] = k
      end
      if meta[INDEXED] == 1 and not covered then redis.call('ZADD', expiryKey, 'LT', nowString, f) end
    end
  end
  if meta[OLDEST] < 0 or now < meta[OLDEST] then meta[OLDEST] = now end
  if now > meta[LAST_ANNOUNCE] then meta[LAST_ANNOUNCE] = now end
  if countIt then
    meta[DOWNLOADED] = meta[DOWNLOADED] + 1
    redis.call('SET', downloadedKey, meta[DOWNLOADED], 'PX', downloadedTtl)
  end
  for _, k in ipairs(grew) do splitIfFull(k) end
  peer.ep4, peer.ep6 = ep4, ep6
end

-- A sparse set gives back up to 8 buckets per announce (sampling walks buckets, so
-- thousands of empty ones after a mass expiry would cost). An empty set starts over
-- at one bucket at once: its buckets are all empty, and expiry-index entries left for
-- them are dropped by the next prune that meets them.
local function mergeOne(k)
  local n = meta[BUCKETS + k] - 1
  local l = 1
  while l * 2 <= n do l = l * 2 end
  local src, dst = fieldName(k, n), fieldName(k, n - l)
  local s = bucket(src)
  if s ~= '' then
    put(dst, bucket(dst) .. s)
    put(src, '')
  end
  meta[BUCKETS + k] = n
  if meta[INDEXED] == 1 then
    local score = redis.call('ZSCORE', expiryKey, src)
    if score then
      redis.call('ZADD', expiryKey, 'LT', score, dst)
      redis.call('ZREM', expiryKey, src)
    end
  end
end
local function shrink(k)
  if meta[RECORDS + k] == 0 then
    meta[BUCKETS + k] = 1
    return
  end
  for _ = 1, 8 do
    local n = meta[BUCKETS + k]
    if n <= 1 or meta[RECORDS + k] >= MERGE * n then return end
    mergeOne(k)
  end
end

-- Key TTLs make a torrent nobody announces to vanish by itself. They are renewed once
-- per refresh period, not on every announce; abs(): a clock far behind the last
-- renewal (another process, a test clock) renews too.
-- moving: the torrent is about to get keys of its own, which need their TTLs and marker now.
local function renewalDue(moving)
  local last = meta[REFRESHED]
  -- An inline torrent's last renewal is not stored: its last announce stands for it, and
  -- a new refresh period since then renews too (its key d is renewed however often it announces).
  if not moving and math.abs(now - last) < refreshPeriod
    and not (stored == INLINE and math.floor(now / refreshPeriod) ~= math.floor(last / refreshPeriod)) then
    return false
  end
  meta[REFRESHED] = now
  return true
end
local function renewTtls()
  if stored == OWN then
    redis.call('PEXPIRE', peersKey, keyTtl)
    if meta[INDEXED] == 1 then redis.call('PEXPIRE', expiryKey, keyTtl) end
    -- (Its marker, with this renewal's time, was written by flush(): a bucket prune drops
    -- a marker once older than the key TTL.)
  end
  if meta[DOWNLOADED] > 0 then redis.call('PEXPIRE', downloadedKey, downloadedTtl) end
end

-- The bucket's TTL, renewed once per refresh period (its field 'r' says when it was
-- last; abs() as in renewalDue), with a bounded prune of its dead entries first. A torrent
-- with keys of its own looks only when it renewed its own or wrote its marker (wrote: the
-- HSET may have made the bucket anew if it was lost, evicted or deleted, with no TTL);
-- an inline one read 'r' with its entry. Returns true when it renewed: the store then
-- makes sure the bucket is in the torrent index.
local function touchBucket(wrote)
  if not stored then return false end
  if not bucketRead then
    -- (inline now but not read as such: it just moved into the bucket, which may have no TTL)
    if not wrote and stored ~= INLINE then return false end
    bucketRenewed, bucketRead = tonumber(redis.call('HGET', bucketKey, 'r') or ''), true
  end
  if bucketRenewed and math.abs(now - bucketRenewed) < refreshPeriod then return false end
  pruneBucket(bucketKey, cutoff, now - keyTtlMs)
  redis.call('HSET', bucketKey, 'r', nowString)
  redis.call('PEXPIRE', bucketKey, keyTtl)
  return true
end

-- Bucket s without the requester's record (the peer is never sampled to itself).
local function withoutPeer(s, size)
  local at = find(s, peer.id, size)
  if not at then return s end
  return string.sub(s, 1, at - 1) .. string.sub(s, at + size)
end

-- Samples up to numwant peers over the given sets of one family, never the requester
-- (whose record, if it has one there, is in set `mine`). Each set gives a run of whole
-- consecutive buckets from a random one (a bucket is a hash-random subset of its set),
-- the last one cut at a random record.
local function sample(numwant, sets, mine)
  local avail, total = {}, 0
  for i, k in ipairs(sets) do
    avail[i] = meta[RECORDS + k] - ((k == mine) and 1 or 0)
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
  local chunks = {}
  for i, k in ipairs(sets) do
    local need = take[i]
    if need > 0 then
      local n, size = meta[BUCKETS + k], RECORD_SIZE[k]
      local perBucket = meta[RECORDS + k] / n
      local own = (k == mine) and fieldName(k, addr(peer.hash, n)) or nil
      local start = math.random(0, n - 1)
      local got, visited = 0, 0
      while got < need and visited < n do
        local batch = math.min(n - visited, math.ceil((need - got) / perBucket) + 1)
        local fs = {}
        for j = 0, batch - 1 do fs[#fs + 1] = fieldName(k, (start + visited + j) % n) end
        load(fs)
        visited = visited + batch
        for _, f in ipairs(fs) do
          local s = cache[f]
          if f == own then s = withoutPeer(s, size) end
          local count = #s / size
          if got + count <= need then
            if count > 0 then chunks[#chunks + 1] = s end
            got = got + count
          else
            local from = math.random(0, count - 1) * size
            local to = from + (need - got) * size
            chunks[#chunks + 1] = string.sub(s, from + 1, to)
            if to > #s then chunks[#chunks + 1] = string.sub(s, 1, to - #s) end
            got = need
          end
          if got >= need then break end
        end
      end
    end
  end
  return chunks
end

local function counts(status)
  return { status, meta[PEERS + SEEDER], meta[PEERS + LEECHER], meta[DOWNLOADED], {}, {}, 0 }
end

-- A torrent nobody announced to yet (or whose peers all left): empty sets of one
-- bucket each, a new salt, and the downloaded count that outlived its peers.
local function newTorrent()
  local downloaded = tonumber(redis.call('GET', downloadedKey) or '0')
  meta = { downloaded, 0, -1, 0, math.random(1, 2147483646), 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1 }
  saltStr = string.format('%d', meta[SALT])
  for k = 1, 4 do cache[fieldName(k, 0)] = '' end
end

-- One announce, in steps: open the torrent, prune it, find the peer, guard its key,
-- remove or upsert it, resize the sets, write back, count, sample.
local function announceOne(peerId, event, seeder, ep4, ep6, key, numwant, wants4, wants6, seed)
  math.randomseed(seed)
  if not readMeta() then newTorrent() end
  prune(cutoff)

  local class = seeder and SEEDER or LEECHER
  peer = { id = peerId, hash = hashOf(peerId), fields = {}, at = {}, class = nil, flags = 0, key = '' }
  locate(class + ((ep4 == '' and ep6 ~= '') and 2 or 0))
  if not keyAllows(ep4, ep6, key) then
    flush()
    return counts(KEY_MISMATCH)
  end

  if event == STOPPED then
    if peer.class then removePeer() end
  else
    upsertPeer(class, event, ep4, ep6, key)
  end
  for k = 1, 4 do shrink(k) end
  local renew = event ~= STOPPED and renewalDue(stored ~= OWN and inlineSet() == nil)
  local alive = flush()
  if renew and alive then renewTtls() end

  local result = counts(OK)
  if touchBucket((renew and alive) or markerWritten) then result[7] = 1 end
  if numwant <= 0 or event == STOPPED then return result end
  -- Seeders get leechers only; leechers get both. The requester's own record of a
  -- family, when it has an endpoint there, is in its class's set of that family.
  if wants4 then
    result[5] = sample(numwant, seeder and { LEECHER } or { LEECHER, SEEDER }, peer.ep4 ~= '' and class or nil)
  end
  if wants6 then
    result[6] = sample(numwant, seeder and { LEECHER + 2 } or { LEECHER + 2, SEEDER + 2 },
      peer.ep6 ~= '' and class + 2 or nil)
  end
  return result
end

local packed = ARGV[7]
local out = {}
for i = 0, #packed / PACKED_SIZE - 1 do
  local o = i * PACKED_SIZE
  local flags = string.byte(packed, o + 22)
  local numwantHi, numwantLo = string.byte(packed, o + 23, o + 24)
  local s1, s2, s3, s4 = string.byte(packed, o + 25, o + 28)
  local k = i * 4
  begin(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], string.sub(packed, o + 57, o + 76))
  -- pcall: an announce that fails (a key of the wrong type, out of memory) fails alone;
  -- the others of the batch still run, as they would have as separate calls.
  local ok, reply = pcall(announceOne,
    string.sub(packed, o + 1, o + 20),
    string.sub(packed, o + 21, o + 21),
    hasFlag(flags, IS_SEEDER),
    hasFlag(flags, HAS_EP4) and string.sub(packed, o + 33, o + 38) or '',
    hasFlag(flags, HAS_EP6) and string.sub(packed, o + 39, o + 56) or '',
    hasFlag(flags, HAS_KEY) and string.sub(packed, o + 29, o + 32) or '',
    numwantHi * 256 + numwantLo,
    hasFlag(flags, WANTS4),
    hasFlag(flags, WANTS6),
    ((s1 * 256 + s2) * 256 + s3) * 256 + s4)
  if not ok then
    reply = { -1, type(reply) == 'table' and tostring(reply.err) or tostring(reply) }
  end
  out[#out + 1] = reply
end
return out
