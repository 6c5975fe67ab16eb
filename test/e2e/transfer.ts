/**
 * One end-to-end transfer: a seeder and a leecher (real clients) meet through
 * a tracker and move a random file; the leecher's copy must hash like the
 * original and the tracker's scrape must show the swarm finished.
 *
 * Order matters on loopback. A client hears of peers only in the reply to its
 * own announce (the next one is `interval` away, 30 minutes by default), and
 * Transmission never dials loopback peers. So the peer that will be dialed
 * starts first — Transmission whenever it takes part, else the seeder — and
 * the dialer starts only once the tracker has recorded the first peer (seen by
 * scrape), so that its first announce already names the partner.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DecodedDict } from '../../src/protocol/bencode.js';
import { scrape } from '../helpers/http-tracker-client.js';
import {
  Aria2Client,
  type BtClient,
  makeTempDir,
  makeTorrent,
  removeTempDir,
  sha256IfComplete,
  type Torrent,
  TransmissionClient,
  writeRandomFile,
} from './clients.js';

export type ClientKind = 'aria2' | 'transmission';

/** 8 MiB: enough pieces (32 of 256 KiB) for a real exchange, small enough for seconds on loopback. */
export const PAYLOAD_SIZE = 8 * 1024 * 1024;
const PAYLOAD_NAME = 'payload.bin';

export interface TransferOptions {
  /** Short label used in temp dir names and messages. */
  label: string;
  seeder: ClientKind;
  leecher: ClientKind;
  /** Goes into the torrent as is. */
  announceUrl: string;
  /** http://host:port of the same tracker, for scrape. */
  scrapeBase: string;
  /** The address family the clients announce over (Transmission's bind address follows it). */
  family: 4 | 6;
  /** Absolute deadline (epoch ms) for the whole transfer. */
  deadline: number;
  /** The tracker's side of the story, for a failure message. */
  trackerDiagnostics: (infoHash: Buffer | undefined) => Promise<string>;
}

export interface TransferResult {
  seconds: number;
  scrape: { complete: number; incomplete: number; downloaded: number };
}

/** Runs one transfer; cleans up processes and temp dirs whatever happens. */
export async function runTransfer(o: TransferOptions): Promise<TransferResult> {
  const root = await makeTempDir(o.label);
  const started = Date.now();
  const clients: BtClient[] = [];
  let torrent: Torrent | undefined;
  let step = 'preparing the payload';
  try {
    const source = join(root, 'source');
    await mkdir(source);
    const payload = join(source, PAYLOAD_NAME);
    const digest = await writeRandomFile(payload, PAYLOAD_SIZE);
    torrent = await makeTorrent(payload, o.announceUrl, join(root, 'payload.torrent'));

    const udpTracker = o.announceUrl.startsWith('udp:');
    const make = (kind: ClientKind, seeder: boolean): BtClient => {
      const dir = join(root, `${kind}-${seeder ? 'seeder' : 'leecher'}`);
      return kind === 'aria2'
        ? new Aria2Client({ dir, seeder, udpTracker })
        : new TransmissionClient({ dir, seeder, udpTracker, trackerFamily: o.family });
    };
    const seeder = make(o.seeder, true);
    const leecher = make(o.leecher, false);
    clients.push(seeder, leecher);
    if (!seeder.dials && !leecher.dials) throw new Error('neither client dials loopback peers: they cannot meet');

    // The seeder's data is a copy of the original in its own dir.
    await mkdir(seeder.dataDir, { recursive: true });
    await copyFile(payload, join(seeder.dataDir, PAYLOAD_NAME));

    const leecherFirst = !leecher.dials;
    const [first, second] = leecherFirst ? [leecher, seeder] : [seeder, leecher];
    step = `starting the ${first.name}`;
    await first.start(torrent);
    step = `waiting for the tracker to record the ${first.name}`;
    const infoHash = torrent.infoHash;
    await waitFor(o.deadline, async () => {
      const counts = await scrapeCounts(o.scrapeBase, infoHash);
      return (leecherFirst ? counts.incomplete : counts.complete) >= 1 ? counts : undefined;
    });
    step = `starting the ${second.name}`;
    await second.start(torrent);

    step = `waiting for the ${leecher.name}'s copy to match the original`;
    await waitFor(
      o.deadline,
      async () =>
        (await sha256IfComplete(join(leecher.dataDir, PAYLOAD_NAME), PAYLOAD_SIZE)) === digest ? true : undefined,
      500,
    );
    const seconds = (Date.now() - started) / 1000;

    // The leecher announces `completed` (left=0) on finishing: two seeders, one download.
    step = 'waiting for the scrape to show two seeders and a download';
    const counts = await waitFor(o.deadline, async () => {
      const c = await scrapeCounts(o.scrapeBase, infoHash);
      return c.complete === 2 && c.downloaded >= 1 ? c : undefined;
    });
    return { seconds, scrape: counts };
  } catch (err) {
    const parts = [`${o.label}: failed while ${step} (after ${((Date.now() - started) / 1000).toFixed(1)} s)`];
    parts.push(String(err instanceof Error ? err.message : err));
    for (const c of clients) parts.push(await c.diagnostics().catch((e) => `(${c.name}: ${e})`));
    parts.push('--- tracker:', await o.trackerDiagnostics(torrent?.infoHash).catch((e) => String(e)));
    throw new Error(parts.join('\n'));
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await removeTempDir(root);
  }
}

export interface Counts {
  complete: number;
  incomplete: number;
  downloaded: number;
}

/** The tracker's counts for one torrent, by an HTTP scrape. */
export async function scrapeCounts(base: string, infoHash: Buffer): Promise<Counts> {
  const reply = await scrape(base, [infoHash]);
  const files = reply.files as DecodedDict | undefined;
  const entry = files?.[infoHash.toString('latin1')] as DecodedDict | undefined;
  return {
    complete: Number(entry?.complete ?? 0),
    incomplete: Number(entry?.incomplete ?? 0),
    downloaded: Number(entry?.downloaded ?? 0),
  };
}

/** Polls until probe returns a value; throws at the deadline with the last probe error, if any. */
export async function waitFor<T>(deadline: number, probe: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await sleep(intervalMs);
  }
}
