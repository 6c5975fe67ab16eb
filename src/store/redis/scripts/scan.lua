--[[
  scan.lua: lists the torrents of buckets (a page of the torrent index) as they are
  stored: each bucket entry's field and value, which the store reads
  (bucket-entry.ts), so Redis spends on a torrent little more than its share of an
  HSCAN step. Dead entries are listed too (the store skips them); each bucket's own
  prune drops them (pruneBucket in torrent.lua, when an announce renews the bucket),
  and a bucket nobody announces to expires whole. Stands alone (no torrent.lua).

  KEYS: bucket keys t (torrent.lua), in bucket order; on a cluster, one.
  ARGV: 1 the HSCAN cursor to go on from in KEYS[1] ('0': from its start)
        2 torrents wanted: the call stops once it listed this many
  Returns: { list, keys done, cursor, missing }
    list: a flat list, two entries per torrent: info_hash (its 20-byte field), the value
    keys done: how many of KEYS were listed to their end; cursor: where to go on in the
      next one ('0': from its start)
    missing: the KEYS indexes (1-based) of buckets that do not exist (expired)
  Complexity: O(wanted + one HSCAN step): a step is SCAN_STEP fields (a hint to Redis),
    or a whole listpack-encoded bucket (at most hash-max-listpack-entries, 512 by default).
]]

local SCAN_STEP = 128
local cursor, wanted = ARGV[1], tonumber(ARGV[2])
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
    for j = 1, #items, 2 do
      local f = items[j]
      -- Fields 'r' and 'c' are the bucket's own.
      if #f == 20 then
        list[#list + 1] = f
        list[#list + 1] = items[j + 1]
        listed = listed + 1
      end
    end
  until cursor == '0' or listed >= wanted
  if cursor ~= '0' then break end
  done = i
  if listed >= wanted then break end
end
return { list, done, cursor, missing }
