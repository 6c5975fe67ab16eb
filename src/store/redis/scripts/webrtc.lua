--[[
  webrtc.lua: one announce to a torrent's WebRTC swarm (the WebSocket tracker's
  peers; store/webrtc-store.ts has the contract). Stands alone: torrent.lua is
  not put in front of it. A WebRTC peer has no address, only its id and the
  tracker node holding its socket, so the layout is plain Redis types:

    s  sorted set: seeders, peer id (20 bytes) -> expiry (ms)
    l  sorted set: leechers, likewise
    n  hash: peer id -> one flag byte ('c': its `completed` was counted, '-')
       followed by the node id
    d  string: downloaded count

  A peer is live while its expiry is in the future; counts are ZCOUNTs of live
  scores, so a peer not yet pruned is never counted. Each announce prunes up to
  PRUNE_MAX expired peers of each set; a torrent nobody announces to goes with
  its keys' TTL.

  KEYS: s, l, n, d of one torrent (keys.ts: webrtcKeys)
  ARGV: 1 now (ms)  2 peer TTL (ms)  3 key TTL (ms)  4 downloaded TTL (ms)
        5 peer id  6 event (started|completed|stopped|update, or leave: the
        peer's socket on node ARGV 8 closed, so it is removed only while that
        node still holds it)  7 seeder (1|0)
        8 node id  9 targets wanted  10 random seed
  Returns: { seeders, leechers, downloaded, id1, node1, id2, node2, ... }:
        counts after the announce, then up to `targets` other live peers
        (a seeder is given leechers only).
  Complexity: O(log N) per set touched, plus O(targets) draws and the pruned peers.
]]

local seedersKey, leechersKey, nodesKey, downloadedKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
local expires = now + tonumber(ARGV[2])
local keyTtl = ARGV[3]
local downloadedTtl = ARGV[4]
local peer = ARGV[5]
local event = ARGV[6]
local seeder = ARGV[7] == '1'
local node = ARGV[8]
local wanted = tonumber(ARGV[9])
math.randomseed(tonumber(ARGV[10]))

local PRUNE_MAX = 100
local LIVE = '(' .. now

local function prune(set)
  local gone = redis.call('ZRANGEBYSCORE', set, '-inf', now, 'LIMIT', 0, PRUNE_MAX)
  if #gone > 0 then
    redis.call('ZREM', set, unpack(gone))
    redis.call('HDEL', nodesKey, unpack(gone))
  end
end

local function upsert()
  local entry = redis.call('HGET', nodesKey, peer)
  local counted = entry and string.sub(entry, 1, 1) == 'c'
  if event == 'completed' and not counted then
    redis.call('INCR', downloadedKey)
    redis.call('PEXPIRE', downloadedKey, downloadedTtl)
    counted = true
  end
  redis.call('ZADD', seeder and seedersKey or leechersKey, expires, peer)
  redis.call('ZREM', seeder and leechersKey or seedersKey, peer)
  redis.call('HSET', nodesKey, peer, (counted and 'c' or '-') .. node)
  for _, key in ipairs({ seedersKey, leechersKey, nodesKey }) do redis.call('PEXPIRE', key, keyTtl) end
end

-- Up to `wanted` distinct live peers of the sets, never the requester, in random order.
local function sample(sets)
  local found, seen = {}, { [peer] = true }
  for _, set in ipairs(sets) do
    local drawn = redis.call('ZRANDMEMBER', set, wanted + 1, 'WITHSCORES')
    for i = 1, #drawn, 2 do
      local id = drawn[i]
      if not seen[id] and tonumber(drawn[i + 1]) > now then
        seen[id] = true
        found[#found + 1] = id
      end
    end
  end
  for i = #found, 2, -1 do
    local j = math.random(i)
    found[i], found[j] = found[j], found[i]
  end
  local out = {}
  for i = 1, math.min(wanted, #found) do out[#out + 1] = found[i] end
  return out
end

prune(seedersKey)
prune(leechersKey)
local removing = event == 'stopped' or event == 'leave'
if removing then
  local entry = redis.call('HGET', nodesKey, peer)
  -- A client that reconnected to another node since is not removed by its old node.
  if event == 'stopped' or (entry and string.sub(entry, 2) == node) then
    redis.call('ZREM', seedersKey, peer)
    redis.call('ZREM', leechersKey, peer)
    redis.call('HDEL', nodesKey, peer)
  end
else
  upsert()
end

local reply = {
  redis.call('ZCOUNT', seedersKey, LIVE, '+inf'),
  redis.call('ZCOUNT', leechersKey, LIVE, '+inf'),
  tonumber(redis.call('GET', downloadedKey) or '0'),
}
if not removing and wanted > 0 then
  local targets = sample(seeder and { leechersKey } or { leechersKey, seedersKey })
  if #targets > 0 then
    local nodes = redis.call('HMGET', nodesKey, unpack(targets))
    for i, id in ipairs(targets) do
      if nodes[i] then
        reply[#reply + 1] = id
        reply[#reply + 1] = string.sub(nodes[i], 2)
      end
    end
  end
end
return reply
