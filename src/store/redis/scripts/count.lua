--[[
  count.lua: prunes torrents, then counts each (scrape, the stats page's scans and
  totals). Follows torrent.lua. Many torrents per call, for the same reason announces
  are batched (announce.lua).

  KEYS: the keys p, e, d, t of each torrent (torrent.lua), four per torrent; on a
        cluster, of one torrent.
  ARGV: 1 cutoff: now - peer TTL (ms), then each torrent's info_hash (20 bytes), in KEYS order
  Returns: per torrent, in KEYS order,
    { seeders, leechers, IPv4 records, IPv6 records, downloaded, last announce (ms, 0 if none) }
  Complexity: O(torrents), plus the records of buckets that may hold expired peers.
]]

local cutoff = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS, 4 do
  begin(KEYS[i], KEYS[i + 1], KEYS[i + 2], KEYS[i + 3], ARGV[2 + (i - 1) / 4])
  if pruneAndFlush(cutoff) then
    out[#out + 1] = {
      meta[PEERS + SEEDER], meta[PEERS + LEECHER],
      meta[RECORDS + 1] + meta[RECORDS + 2], meta[RECORDS + 3] + meta[RECORDS + 4],
      meta[DOWNLOADED], meta[LAST_ANNOUNCE],
    }
  else
    out[#out + 1] = { 0, 0, 0, 0, tonumber(redis.call('GET', downloadedKey) or '0'), 0 }
  end
end
return out
