import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OTHER, parseTrackerRequestHead, type TrackerRequestHead } from '../../src/protocol/http-request-head.js';
import { maskPasskey, parsePasskeyList, passkeyFromUrlData, routeWithPasskey } from '../../src/protocol/passkey.js';

const KEY = 'abcDEF0123456789_-xyz';

describe('passkeys in URLs', () => {
  it('routes /announce/<key> and /scrape/<key>, and nothing malformed', () => {
    assert.deepEqual(routeWithPasskey(`/announce/${KEY}`), { route: 'announce', passkey: KEY });
    assert.deepEqual(routeWithPasskey(`/scrape/${KEY}`), { route: 'scrape', passkey: KEY });
    assert.deepEqual(routeWithPasskey('/announce'), { route: 'announce', passkey: undefined });
    assert.deepEqual(routeWithPasskey('/scrape.php'), { route: 'scrape', passkey: undefined });
    for (const bad of ['/announce/short', `/announce/${KEY}/x`, `/announce/${KEY}%41`, '/announcex', `/stats/${KEY}`]) {
      assert.equal(routeWithPasskey(bad), undefined, bad);
    }
    assert.equal(routeWithPasskey(`/announce/${'k'.repeat(129)}`), undefined);
  });

  it('reads the key from BEP 41 URL data, with or without a query', () => {
    assert.equal(passkeyFromUrlData(Buffer.from(`/announce/${KEY}?a=1&b=2`)), KEY);
    assert.equal(passkeyFromUrlData(Buffer.from(`/announce/${KEY}`)), KEY);
    assert.equal(passkeyFromUrlData(Buffer.from('/announce?passkey=x')), undefined);
    assert.equal(passkeyFromUrlData(Buffer.from(`/scrape/${KEY}`)), undefined);
    assert.equal(passkeyFromUrlData(Buffer.alloc(0)), undefined);
    // Read off a slice of a larger packet, as the UDP codec hands it over.
    const packet = Buffer.from(`xxxx/announce/${KEY}?a`);
    assert.equal(passkeyFromUrlData(packet.subarray(4)), KEY);
    for (const bad of [
      '/announce/',
      '/announce/short',
      `/announce/${KEY}/x`,
      `/announce.php/${KEY}`,
      `/Announce/${KEY}`,
    ]) {
      assert.equal(passkeyFromUrlData(Buffer.from(bad)), undefined, bad);
    }
  });

  it('reads the same key from URL data as from an HTTP path (any bytes)', () => {
    const piece = fc.constantFrom('/announce', '/announce/', '/scrape/', KEY, 'k', '?', '/', '.php', '%41', '\u00e9');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 6 }), fc.uint8Array({ maxLength: 8 }), (pieces, noise) => {
        const data = Buffer.concat([Buffer.from(pieces.join(''), 'latin1'), noise]);
        const q = data.indexOf(0x3f);
        const found = routeWithPasskey(data.subarray(0, q < 0 ? data.length : q).toString('latin1'));
        assert.equal(passkeyFromUrlData(data), found?.route === 'announce' ? found.passkey : undefined);
      }),
    );
  });

  it('parses a keys file without ever echoing a line, and masks keys for logs', () => {
    const { keys, problems } = parsePasskeyList(`# members\n${KEY}\n\n  ${KEY}2  # bob\nsecret but bad!\n`);
    assert.deepEqual([...keys], [KEY, `${KEY}2`]);
    assert.equal(problems.length, 1);
    assert.match(problems[0] as string, /^line 5: not a passkey/);
    assert.ok(!(problems[0] as string).includes('secret'));
    assert.equal(maskPasskey(KEY), 'abcD…');
  });

  it('the HTTP fast path parses keyed targets only for a private tracker', () => {
    const head = Buffer.from(`GET /announce/${KEY}?info_hash=x HTTP/1.1\r\nHost: t\r\n\r\n`, 'latin1');
    const limits = { maxTarget: 8192, maxHead: 16384 };
    assert.equal(parseTrackerRequestHead(head, 0, limits), OTHER);
    const parsed = parseTrackerRequestHead(head, 0, { ...limits, passkeys: true }) as TrackerRequestHead;
    assert.deepEqual([parsed.route, parsed.passkey, parsed.query], ['announce', KEY, 'info_hash=x']);
    const plain = Buffer.from('GET /scrape?info_hash=x HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1');
    assert.equal(
      (parseTrackerRequestHead(plain, 0, { ...limits, passkeys: true }) as TrackerRequestHead).passkey,
      undefined,
    );
    const bad = Buffer.from('GET /announce/bad!key!!?info_hash=x HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1');
    assert.equal(parseTrackerRequestHead(bad, 0, { ...limits, passkeys: true }), OTHER);
  });
});
