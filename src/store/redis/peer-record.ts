/**
 * A peer record as the scripts store it (scripts/torrent.lua, "Record"):
 * peer_id (20) · last seen (6 bytes, ms, big-endian) · flags (1) · key (4)
 * · endpoint (6: compact IPv4, 18: compact IPv6). Offsets from its first byte.
 */
export const RECORD_SEEN_AT = 20;
export const RECORD_ENDPOINT = 20 + 6 + 1 + 4;
export const ENDPOINT4_SIZE = 6;
export const ENDPOINT6_SIZE = 18;
