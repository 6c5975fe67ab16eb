import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePeerClient, formatPeerClient } from '../../src/stats/peer-client.js';

/** A 20-byte peer id: the given prefix, then random-looking filler. */
function id(prefix: string | Buffer): Buffer {
  const out = Buffer.alloc(20, 0x37);
  (typeof prefix === 'string' ? Buffer.from(prefix, 'latin1') : prefix).copy(out);
  return out;
}

const name = (prefix: string | Buffer): string => formatPeerClient(decodePeerClient(id(prefix)));

test('Azureus-style ids name the client and version', () => {
  assert.equal(name('-qB4650-'), 'qBittorrent 4.6.5');
  assert.equal(name('-UT3550-'), 'µTorrent 3.5.5');
  assert.equal(name('-UM1870-'), 'µTorrent for Mac 1.8.7');
  assert.equal(name('-LT2090-'), 'libtorrent (Rasterbar) 2.0.9');
  assert.equal(name('-lt0D60-'), 'libTorrent (rakshasa) 0.13.6'); // D = 13
  assert.equal(name('-DE13F0-'), 'Deluge 1.3.15');
  assert.equal(name('-BI2711-'), 'BiglyBT 2.7.1.1'); // a non-zero build number is kept
  assert.equal(name('-WW0105-'), 'WebTorrent 0.1.0.5');
});

test('Transmission versions follow its own scheme', () => {
  assert.equal(name('-TR3000-'), 'Transmission 3.00');
  assert.equal(name('-TR2940-'), 'Transmission 2.94');
  assert.equal(name('-TR4050-'), 'Transmission 4.0.5');
  assert.equal(name('-TR300Z-'), 'Transmission 3.00 beta');
  assert.equal(name('-TR410X-'), 'Transmission 4.1.0 dev');
});

test('aria2, mainline and Shadow-style ids', () => {
  assert.equal(name('A2-1-36-0-'), 'aria2 1.36.0');
  assert.equal(name('M4-3-6--'), 'BitTorrent (mainline) 4.3.6');
  assert.equal(name('M7-10-3-'), 'BitTorrent (mainline) 7.10.3');
  assert.equal(name('S58B-----'), 'Shadow 5.8.11');
  assert.equal(name('T03I-----'), 'BitTornado 0.3.18');
  assert.equal(name('A310-----'), 'ABC 3.1.0');
});

test('unknown, malformed and short ids decode to Unknown without throwing', () => {
  assert.deepEqual(decodePeerClient(id('-ZZ1234-')), { name: 'Unknown', version: '' });
  assert.equal(name('-XY'), 'Unknown');
  assert.equal(name(Buffer.from([0xff, 0xfe, 0x00, 0x2d, 0x2d, 0x2d, 0x2d, 0x2d])), 'Unknown');
  assert.equal(formatPeerClient(decodePeerClient(Buffer.from('-qB'))), 'Unknown');
  assert.equal(formatPeerClient(decodePeerClient(Buffer.alloc(0))), 'Unknown');
  // A known code with version characters outside the alphabet: the name, no version.
  assert.equal(name('-qB4.6!-'), 'qBittorrent');
  // Shadow letter without the dashes is not a Shadow-style id.
  assert.equal(name('S58B12345'), 'Unknown');
});
