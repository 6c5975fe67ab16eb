import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../src/errors.js';
import { decodeBencode } from '../../src/protocol/bencode.js';
import { encodeFailure, encodeHttpAnnounce, keyToUint32, parseHttpAnnounce } from '../../src/protocol/http-announce.js';
import { encodeHttpScrape, parseHttpScrape } from '../../src/protocol/http-scrape.js';
import { parseQuery } from '../../src/protocol/query.js';

const base = `info_hash=${'%aa'.repeat(20)}&peer_id=${'%bb'.repeat(20)}&port=6881&uploaded=1&downloaded=2&left=3`;

describe('HTTP announce codec', () => {
  it('parses the BEP 3 fields, compact by default', () => {
    const { params, compact, noPeerId } = parseHttpAnnounce(
      parseQuery(`${base}&event=started&numwant=20&key=ABCDEF01`),
    );
    assert.ok(params.infoHash.equals(Buffer.alloc(20, 0xaa)));
    assert.ok(params.peerId.equals(Buffer.alloc(20, 0xbb)));
    assert.deepEqual([params.port, params.uploaded, params.downloaded, params.left], [6881, 1, 2, 3]);
    assert.equal(params.event, 'started');
    assert.equal(params.numWant, 20);
    assert.equal(params.key, 0xabcdef01);
    assert.equal(compact, true);
    assert.equal(noPeerId, false);
  });

  it('reads compact=0, no_peer_id=1, empty and paused events, numwant=-1', () => {
    const r = parseHttpAnnounce(parseQuery(`${base}&compact=0&no_peer_id=1&event=&numwant=-1`));
    assert.equal(r.compact, false);
    assert.equal(r.noPeerId, true);
    assert.equal(r.params.event, 'update');
    assert.equal(r.params.numWant, -1);
    assert.equal(parseHttpAnnounce(parseQuery(`${base}&event=paused`)).params.event, 'update');
  });

  it('refuses Object.prototype names as events', () => {
    for (const e of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      assert.throws(
        () => parseHttpAnnounce(parseQuery(`${base}&event=${e}`)),
        (err: unknown) => err instanceof ProtocolError && err.code === 'invalid_event',
        e,
      );
    }
  });

  it('keeps left values beyond 32 bits', () => {
    assert.equal(parseHttpAnnounce(parseQuery(base.replace('left=3', 'left=8589934592'))).params.left, 2 ** 33);
  });

  it('maps keys to uint32: hex keys by value, others by hash', () => {
    assert.equal(keyToUint32(Buffer.from('ffffffff')), 0xffffffff);
    assert.equal(keyToUint32(Buffer.from('1')), 1);
    const a = keyToUint32(Buffer.from('not hex!'));
    assert.equal(a, keyToUint32(Buffer.from('not hex!')));
    assert.notEqual(a, keyToUint32(Buffer.from('not hex?')));
    assert.ok(a >= 0 && a <= 0xffffffff);
  });

  it('encodes a compact reply with peers and peers6 in key order', () => {
    const reply = {
      interval: 1800,
      minInterval: 300,
      complete: 2,
      incomplete: 3,
      downloaded: 4,
      peers4: Buffer.from('7f0000011ae1', 'hex'),
      peers6: Buffer.alloc(18, 1),
    };
    const out = encodeHttpAnnounce(reply, true, false);
    const d = decodeBencode(out) as Record<string, unknown>; // the strict decoder checks key order
    assert.deepEqual(Object.keys(d), [
      'complete',
      'downloaded',
      'incomplete',
      'interval',
      'min interval',
      'peers',
      'peers6',
    ]);
    assert.ok((d.peers as Buffer).equals(reply.peers4));
    assert.ok((d.peers6 as Buffer).equals(reply.peers6));
    const none = decodeBencode(
      encodeHttpAnnounce({ ...reply, peers4: Buffer.alloc(0), peers6: Buffer.alloc(0) }, true, false),
    );
    assert.equal((none as Record<string, unknown>).peers6, undefined);
  });

  it('encodes failures with an optional BEP 31 retry in', () => {
    assert.equal(encodeFailure('nope').toString(), 'd14:failure reason4:nopee');
    assert.equal(encodeFailure('later', 1).toString(), 'd14:failure reason5:later8:retry ini1ee');
  });
});

describe('HTTP scrape codec', () => {
  it('reads repeated info_hash and writes files keyed by raw hash, sorted', () => {
    const hashes = parseHttpScrape(parseQuery(`info_hash=${'%ff'.repeat(20)}&info_hash=${'%00'.repeat(20)}`));
    assert.equal(hashes.length, 2);
    const out = encodeHttpScrape(
      hashes.map((infoHash, i) => ({ infoHash, complete: i, incomplete: 1, downloaded: 2 })),
    );
    const files = (decodeBencode(out) as { files: Record<string, unknown> }).files;
    assert.deepEqual(Object.keys(files), [
      Buffer.alloc(20, 0).toString('latin1'),
      Buffer.alloc(20, 0xff).toString('latin1'),
    ]);
    assert.deepEqual(files[Buffer.alloc(20, 0xff).toString('latin1')], { complete: 0, downloaded: 2, incomplete: 1 });
  });
});
