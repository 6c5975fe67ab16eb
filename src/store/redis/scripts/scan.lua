--[[
  scan.lua: lists the torrents of buckets (a page of the torrent index), dropping the
  dead entries it meets (deadEntry in torrent.lua). Follows torrent.lua.

  KEYS: bucket keys t (torrent.lua), in bucket order; on a cluster, one.
  ARGV: 1 cutoff: now - peer TTL (ms)
        2 marker cutoff: now - key TTL (ms); an older marker's keys have expired
        3 the HSCAN cursor to go on from in KEYS[1] ('0': from its start)
        4 torrents wanted: the call stops once it listed this many
  Returns: { list, keys done, cursor, missing }
    list: a flat list, eight entries per torrent: info_hash, counted (1: the next six
      are its counts; 0: count it with count.lua, it has keys of its own, or is inline
      without a copy of its downloaded count), seeders,
      leechers, IPv4 records, IPv6 records, last announce (ms), downloaded
    keys done: how many of KEYS were listed to their end; cursor: where to go on in the
      next one ('0': from its start)
    missing: the KEYS indexes (1-based) of buckets that do not exist (expired)
  Complexity: O(wanted + one HSCAN step): a step is SCAN_STEP fields (a hint to Redis),
    or a whole listpack-encoded bucket (at most hash-max-listpack-entries, 512 by default).
]]

local SCAN_STEP = 128
local cutoff, markerCutoff = tonumber(ARGV[1]), tonumber(ARGV[2])
local cursor, wanted = ARGV[3], tonumber(ARGV[4])
local list, missing, listed, done = {}, {}, 0, 0
for i = 1, #KEYS do
  local t = KEYS[i]
  local first = cursor == '0'
  repeat
    local got = redis.call('HSCAN', t, cursor, 'COUNT', SCAN_STEP)
    cursor = got[1]
    local items = got[2]
    if first and cursor == '0' and #items == 0 and redis.call('EXISTS', t) == 0 then missing[#missing + 1] = i end
    first = false
    local gone = { 'HDEL', t }
    for j = 1, #items, 2 do
      local f, v = items[j], items[j + 1]
      if #f == 20 then
        if deadEntry(f, v, cutoff, markerCutoff) then
          gone[#gone + 1] = f
        elseif isInline(v) and (string.byte(v, 1) < HAS_DOWNLOADED
            or tonumber(string.sub(v, 2 + RECORD_SIZE[string.byte(v, 1) % HAS_DOWNLOADED]))) then
          local tag = string.byte(v, 1)
          local k = tag % HAS_DOWNLOADED
          local class = classOf(k)
          list[#list + 1] = f
          list[#list + 1] = 1
          list[#list + 1] = class == SEEDER and 1 or 0
          list[#list + 1] = class == LEECHER and 1 or 0
          list[#list + 1] = k <= 2 and 1 or 0
          list[#list + 1] = k > 2 and 1 or 0
          list[#list + 1] = seenAt(v, 2)
          list[#list + 1] = tag >= HAS_DOWNLOADED and tonumber(string.sub(v, 2 + RECORD_SIZE[k])) or 0
          listed = listed + 1
        else
          list[#list + 1] = f
          for _ = 1, 7 do list[#list + 1] = 0 end
          listed = listed + 1
        end
      end
    end
    if #gone > 2 then redis.call(unpack(gone)) end
  until cursor == '0' or listed >= wanted
  if cursor ~= '0' then break end
  done = i
  if listed >= wanted then break end
end
return { list, done, cursor, missing }
