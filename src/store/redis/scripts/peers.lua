--[[
  peers.lua: prunes one torrent, then lists up to `limit` live peers (the stats page's
  torrent view). Follows torrent.lua.

  KEYS: the torrent's keys p, e, d, t (torrent.lua)
  ARGV: 1 cutoff: now - peer TTL (ms), 2 limit, 3 info_hash (20 bytes)
  Returns: a flat list, five entries per peer:
    peer_id, seeder (1|0), last seen (ms), IPv4 endpoint or '', IPv6 endpoint or ''
  Complexity: O(records listed), plus one bucket read per dual-stack peer for its
  IPv6 half.
]]

local limit = tonumber(ARGV[2])
begin(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[3])
if not pruneAndFlush(tonumber(ARGV[1])) then return {} end

local out = {}
local function emit(peerId, class, seen, ep4, ep6)
  out[#out + 1] = peerId
  out[#out + 1] = class == SEEDER and 1 or 0
  out[#out + 1] = seen
  out[#out + 1] = ep4
  out[#out + 1] = ep6
  limit = limit - 1
end

-- The IPv6 endpoint of a dual-stack peer, from its record in the IPv6 set of its class.
local function ipv6Of(peerId, class)
  local k = class + 2
  local s = bucket(fieldName(k, addr(hashOf(peerId), meta[BUCKETS + k])))
  local at = find(s, peerId, RECORD_SIZE[k])
  return at and string.sub(s, at + ENDPOINT_AT, at + ENDPOINT_AT + 17) or ''
end

for class = SEEDER, LEECHER do
  -- IPv4 records (with the IPv6 endpoint of dual-stack peers), then IPv6-only peers.
  for k = class, class + 2, 2 do
    local size = RECORD_SIZE[k]
    for b = 0, meta[BUCKETS + k] - 1 do
      if limit <= 0 then return out end
      local s = bucket(fieldName(k, b))
      for off = 1, #s, size do
        if limit <= 0 then return out end
        local peerId = string.sub(s, off, off + 19)
        local dual = hasFlag(flagsAt(s, off), DUAL_STACK)
        local ep = string.sub(s, off + ENDPOINT_AT, off + ENDPOINT_AT + ENDPOINT_SIZE[k] - 1)
        if k == class then
          emit(peerId, class, seenAt(s, off), ep, dual and ipv6Of(peerId, class) or '')
        elseif not dual then
          emit(peerId, class, seenAt(s, off), '', ep)
        end
      end
    end
  end
end
return out
