--[[
  scan.lua: lists the torrents of buckets (a page of the torrent index), dropping
  the buckets' expired inline torrents first. Follows torrent.lua.

  KEYS: bucket keys t (torrent.lua); on a cluster, one.
  ARGV: 1 cutoff: now - peer TTL (ms)
  Returns: per bucket, in KEYS order, a flat list, seven entries per torrent:
    info_hash, counted (1: the next five are its counts; 0: count it with count.lua:
    it has keys of its own, or a downloaded count in key d), seeders, leechers,
    IPv4 records, IPv6 records, last announce (ms)
  Complexity: O(torrents in the buckets).
]]

local cutoff = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS do
  local all = pruneBucket(KEYS[i], cutoff)
  local list = {}
  for j = 2, #all, 2 do
    local v = all[j]
    if v and #all[j - 1] == 20 then
      local tag = #v > 0 and string.byte(v, 1) or HAS_DOWNLOADED
      list[#list + 1] = all[j - 1]
      if tag >= HAS_DOWNLOADED then
        for _ = 1, 6 do list[#list + 1] = 0 end
      else
        local class = classOf(tag)
        list[#list + 1] = 1
        list[#list + 1] = class == SEEDER and 1 or 0
        list[#list + 1] = class == LEECHER and 1 or 0
        list[#list + 1] = tag <= 2 and 1 or 0
        list[#list + 1] = tag > 2 and 1 or 0
        list[#list + 1] = seenAt(v, 2)
      end
    end
  end
  out[#out + 1] = list
end
return out
