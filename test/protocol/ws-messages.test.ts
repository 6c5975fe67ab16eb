import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../src/errors.js';
import {
  encodeWsAnswer,
  encodeWsOffer,
  MAX_PARSED_OFFERS,
  parseWsMessage,
  type WsAnnounce,
  type WsAnswer,
  WsProtocolError,
} from '../../src/protocol/ws-messages.js';

/** The WebSocket tracker's JSON messages (protocol/ws-messages.ts), without a socket. */

const numRuns = Number(process.env.BITSTORM_PROPERTY_RUNS ?? 300);
const id = (fill: number): string => Buffer.alloc(20, fill).toString('latin1');

function refused(text: string): WsProtocolError {
  try {
    parseWsMessage(text);
  } catch (err) {
    assert.ok(err instanceof WsProtocolError, String(err));
    return err;
  }
  assert.fail(`accepted ${text}`);
}

describe('parseWsMessage', () => {
  it('reads an announce: binary ids byte-exact, left 0 a seeder, left null a leecher', () => {
    const bytes = Buffer.from([...Array(20).keys()].map((i) => (i * 13 + 0x80) & 0xff));
    const a = parseWsMessage(
      JSON.stringify({ action: 'announce', info_hash: bytes.toString('latin1'), peer_id: id(1), left: 0 }),
    ) as WsAnnounce;
    assert.deepEqual(
      [a.action, a.infoHash, a.seeder, a.event, a.numWant],
      ['announce', bytes, true, 'update', undefined],
    );
    const b = parseWsMessage(
      JSON.stringify({
        action: 'announce',
        info_hash: id(2),
        peer_id: id(1),
        left: null,
        event: 'started',
        numwant: 5,
      }),
    ) as WsAnnounce;
    assert.deepEqual([b.seeder, b.event, b.numWant], [false, 'started', 5]);
  });

  it('refuses negative, fractional and non-numeric byte counts and numwant, as HTTP does', () => {
    for (const [field, value] of [
      ['left', -1],
      ['uploaded', -5],
      ['downloaded', 1.5],
      ['numwant', -3],
      ['numwant', 2.5],
      ['left', '10'],
    ] as const) {
      const err = refused(JSON.stringify({ action: 'announce', info_hash: id(2), peer_id: id(1), [field]: value }));
      assert.equal(err.code, 'invalid_number', `${field}: ${value}`);
      assert.match(err.message, new RegExp(field));
      assert.equal(err.action, 'announce');
      assert.equal(err.infoHash, id(2));
    }
  });

  it('refuses ids that are not 20 one-byte chars, echoing what could be read', () => {
    assert.equal(
      refused(JSON.stringify({ action: 'announce', info_hash: id(1), peer_id: 'short' })).code,
      'invalid_peer_id',
    );
    const wide = `${id(1).slice(0, 19)}\u0100`;
    const err = refused(JSON.stringify({ action: 'announce', info_hash: wide, peer_id: id(1) }));
    assert.equal(err.code, 'invalid_info_hash');
    assert.equal(err.infoHash, wide);
    assert.equal(refused('{"action":"nope"}').code, 'unknown_action');
    assert.equal(refused('[1]').code, 'malformed_message');
    assert.equal(refused('{').code, 'malformed_message');
  });

  it(`keeps at most ${MAX_PARSED_OFFERS} offers`, () => {
    const offers = Array.from({ length: 300 }, (_, i) => ({ offer_id: id(i), offer: { type: 'offer', sdp: `s${i}` } }));
    const a = parseWsMessage(JSON.stringify({ action: 'announce', info_hash: id(1), peer_id: id(2), offers }));
    assert.equal((a as WsAnnounce).offers.length, MAX_PARSED_OFFERS);
  });

  it('round-trips an offer and an answer through the relayed text', () => {
    const offer = { offerId: Buffer.from(id(9), 'latin1'), offer: { type: 'offer', sdp: 'v=0 "quoted" \\ ünïcode' } };
    const relayed = JSON.parse(encodeWsOffer(Buffer.from(id(1), 'latin1'), Buffer.from(id(2), 'latin1'), offer));
    assert.deepEqual([relayed.offer, relayed.offer_id, relayed.peer_id], [offer.offer, id(9), id(2)]);
    const answer: WsAnswer = {
      action: 'answer',
      infoHash: Buffer.from(id(1), 'latin1'),
      peerId: Buffer.from(id(3), 'latin1'),
      toPeerId: Buffer.from(id(2), 'latin1'),
      offerId: Buffer.from(id(9), 'latin1'),
      answer: { type: 'answer', sdp: 'a=x' },
    };
    const text = encodeWsAnswer(answer);
    assert.deepEqual(JSON.parse(text).answer, answer.answer);
  });

  it('throws nothing but a ProtocolError on any text or JSON value', () => {
    const json = fc.jsonValue().map((v) => JSON.stringify(v));
    const announceLike = fc
      .record(
        { action: fc.constantFrom('announce', 'scrape', 'answer'), info_hash: fc.anything(), peer_id: fc.anything() },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v) ?? '');
    fc.assert(
      fc.property(fc.oneof(fc.string(), json, announceLike), (text) => {
        try {
          parseWsMessage(text);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
        }
      }),
      { numRuns },
    );
  });
});
