import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  INCOMPLETE,
  OTHER,
  parseTrackerRequestHead,
  type TrackerRequestHead,
} from '../../src/protocol/http-request-head.js';

const LIMITS = { maxTarget: 8192, maxHead: 16384 };

function parse(text: string, start = 0): ReturnType<typeof parseTrackerRequestHead> {
  return parseTrackerRequestHead(Buffer.from(text, 'latin1'), start, LIMITS);
}

function head(text: string): TrackerRequestHead {
  const r = parse(text);
  assert.equal(typeof r, 'object', `parsed ${JSON.stringify(text)}`);
  return r as TrackerRequestHead;
}

describe('HTTP request head (fast path)', () => {
  it('reads announce and scrape requests with their query', () => {
    const a = head('GET /announce?info_hash=%01&port=1 HTTP/1.1\r\nHost: t\r\n\r\n');
    assert.deepEqual(a, {
      route: 'announce',
      query: 'info_hash=%01&port=1',
      passkey: undefined,
      keepAlive: true,
      forwardedFor: undefined,
      realIp: undefined,
      end: 56,
    });
    assert.equal(head('GET /announce.php?a=1 HTTP/1.0\r\n\r\n').route, 'announce');
    assert.equal(head('GET /scrape?info_hash=x HTTP/1.1\r\nhost: t\r\n\r\n').route, 'scrape');
    assert.equal(head('GET /scrape.php?info_hash=x HTTP/1.0\r\n\r\n').route, 'scrape');
  });

  it('keep-alive follows HTTP/1.0 and 1.1 rules and the Connection tokens', () => {
    assert.equal(head('GET /announce?a HTTP/1.1\r\nHost: t\r\n\r\n').keepAlive, true);
    assert.equal(head('GET /announce?a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n').keepAlive, false);
    assert.equal(
      head('GET /announce?a HTTP/1.1\r\nHost: t\r\nCONNECTION:  Keep-Alive, Close \r\n\r\n').keepAlive,
      false,
    );
    assert.equal(head('GET /announce?a HTTP/1.0\r\n\r\n').keepAlive, false);
    assert.equal(head('GET /announce?a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').keepAlive, true);
    assert.equal(head('GET /announce?a HTTP/1.0\r\nConnection: TE, keep-alive\r\n\r\n').keepAlive, true);
  });

  it('keeps the proxy headers as node:http reports them (trimmed, repeats joined)', () => {
    const h = head(
      'GET /announce?a HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 1.2.3.4 \r\nx-real-ip:\t5.6.7.8\r\nx-forwarded-for: 9.9.9.9\r\n\r\n',
    );
    assert.equal(h.forwardedFor, '1.2.3.4, 9.9.9.9');
    assert.equal(h.realIp, '5.6.7.8');
  });

  it('says where the head ends, for pipelined requests', () => {
    const one = 'GET /announce?a=1 HTTP/1.1\r\nHost: t\r\n\r\n';
    const two = 'GET /scrape?b=2 HTTP/1.1\r\nHost: t\r\n\r\n';
    const first = head(one + two);
    assert.equal(first.end, one.length);
    const second = parse(one + two, first.end) as TrackerRequestHead;
    assert.equal(second.route, 'scrape');
    assert.equal(second.query, 'b=2');
    assert.equal(second.end, one.length + two.length);
  });

  it('waits for the rest of a plausible head', () => {
    const full = 'GET /announce?a=1 HTTP/1.1\r\nHost: t\r\n\r\n';
    for (let i = 0; i < full.length; i++) assert.equal(parse(full.slice(0, i)), INCOMPLETE, `prefix ${i}`);
    assert.equal(typeof parse(full), 'object');
  });

  it('leaves everything else to node:http', () => {
    for (const text of [
      'POST /announce?a HTTP/1.1\r\nHost: t\r\n\r\n',
      'HEAD /announce?a HTTP/1.1\r\nHost: t\r\n\r\n',
      'GET /announce HTTP/1.1\r\nHost: t\r\n\r\n', // no query: the landing page
      'GET /announce? HTTP/1.1\r\nHost: t\r\n\r\n',
      'GET /scrape HTTP/1.1\r\nHost: t\r\n\r\n', // a full scrape
      'GET /stats?token=x HTTP/1.1\r\nHost: t\r\n\r\n',
      'GET /announcex?a HTTP/1.1\r\nHost: t\r\n\r\n',
      'GET /Announce?a HTTP/1.1\r\nHost: t\r\n\r\n',
      'GET /announce.phpx?a HTTP/1.1\r\nHost: t\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\n\r\n', // HTTP/1.1 without Host: node answers 400
      'GET /announce?a HTTP/2.0\r\nHost: t\r\n\r\n',
      'GET /announce?a  HTTP/1.1\r\nHost: t\r\n\r\n',
      'GET /announce?a\tb HTTP/1.1\r\nHost: t\r\n\r\n',
      'GET /announce?\xe9 HTTP/1.1\r\nHost: t\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\nHost : t\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n',
      'GET /announce?a HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n',
      'GET /announce?a HTTP/1.1\nHost: t\n\n', // bare LF, even before the head is complete
      'GET /announce?a HTTP/1.1\nHost',
      'get /announce?a HTTP/1.1\r\nHost: t\r\n\r\n',
      '\r\nGET /announce?a HTTP/1.1\r\nHost: t\r\n\r\n',
      '\x00\x01GARBAGE\r\n\r\n',
      'PUT',
    ]) {
      assert.equal(parse(text), OTHER, JSON.stringify(text));
    }
  });

  it('leaves requests past the size limits to node:http (414, 431)', () => {
    const limits = { maxTarget: 20, maxHead: 64 };
    const p = (t: string) => parseTrackerRequestHead(Buffer.from(t), 0, limits);
    assert.equal(typeof p('GET /announce?abcdefghij HTTP/1.1\r\nHost: t\r\n\r\n'), 'object');
    assert.equal(p('GET /announce?abcdefghijk HTTP/1.1\r\nHost: t\r\n\r\n'), OTHER);
    assert.equal(p(`GET /announce?a HTTP/1.1\r\nHost: t\r\nX: ${'x'.repeat(40)}\r\n\r\n`), OTHER);
    assert.equal(p(`GET /announce?a HTTP/1.1\r\nHost: t\r\nX: ${'x'.repeat(40)}`), OTHER); // incomplete but too long
  });
});
