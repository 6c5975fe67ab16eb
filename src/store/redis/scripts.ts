import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageDir } from '../../package-dir.js';

/**
 * The Redis store's Lua scripts, in scripts/*.lua: each file opens with its KEYS,
 * ARGV, reply and complexity. torrent.lua holds what announce, count and peers
 * share (a torrent's keys, meta and peer buckets) and is put in front of each of
 * them, because Redis runs a script as one chunk with no `require`; webrtc and
 * account stand alone. They are read once, when the first Redis store
 * is made (a memory-store tracker never reads them), and called by SHA1 (EVALSHA;
 * on NOSCRIPT the source is sent again with EVAL).
 */
export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

export interface Scripts {
  /** A batch of announces (announce.lua). */
  readonly announce: Script;
  /** Prune and count torrents (count.lua). */
  readonly count: Script;
  /** Prune one torrent and list its peers (peers.lua). */
  readonly peers: Script;
  /** One announce to a WebRTC swarm (webrtc.lua, which stands alone). */
  readonly webrtc: Script;
  /** One announce's accounting for a passkey (account.lua, which stands alone). */
  readonly account: Script;
}

let loaded: Scripts | undefined;

/** The scripts, read from the package on first use. */
export function redisScripts(): Scripts {
  if (loaded) return loaded;
  const dir = packageDir(import.meta.url, join('src', 'store', 'redis', 'scripts'), 'torrent.lua');
  const shared = readFileSync(join(dir, 'torrent.lua'), 'utf8');
  const script = (name: string, withShared = true): Script => {
    const own = readFileSync(join(dir, `${name}.lua`), 'utf8');
    const source = withShared ? `${shared}\n${own}` : own;
    return { name, source, sha: createHash('sha1').update(source).digest('hex') };
  };
  loaded = {
    announce: script('announce'),
    count: script('count'),
    peers: script('peers'),
    webrtc: script('webrtc', false),
    account: script('account', false),
  };
  return loaded;
}
