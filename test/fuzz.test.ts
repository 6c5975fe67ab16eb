import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTracker, type Tracker } from '../src/tracker.js';
import { fuzzTracker } from './fuzz/fuzz-tracker.js';
import { exchange } from './fuzz/http-fuzz.js';

/**
 * A bounded fuzz run over real sockets on every `npm test` (a new seed each
 * time, printed on failure so the case can be replayed with `npm run fuzz --
 * --seed S --count 1`); `npm run fuzz -- --count N` runs a long campaign with
 * the same generators (docs/reliability.md).
 */
describe('fuzzing over real sockets', () => {
  for (const httpFastPath of [true, false]) {
    it(`answers every mutated HTTP request and UDP packet properly (HTTP fast path ${httpFastPath ? 'on' : 'off'})`, async () => {
      const seed = Math.floor(Math.random() * 2 ** 30);
      const run = await fuzzTracker({ httpCases: 400, udpPackets: 1500, seed, httpFastPath });
      assert.deepEqual(run.failures.slice(0, 5), [], `seed ${seed}: ${run.failures.length} failures`);
      assert.ok(run.aliveAfter, `seed ${seed}: a valid announce after the fuzzing got no peer`);
    });
  }
});

describe('pipelined cases the fuzzer once found', () => {
  const hash = '%aa'.repeat(20);
  const head = (target: string, extra = ''): string => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;
  const announce = (n: number): string =>
    `/announce?info_hash=${hash}&peer_id=-FZ0001-00000000000${n}&port=${6000 + n}&uploaded=0&downloaded=0&left=1000`;

  for (const httpFastPath of [true, false]) {
    describe(`HTTP fast path ${httpFastPath ? 'on' : 'off'}`, () => {
      let tracker: Tracker;
      let port: number;
      before(async () => {
        tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', requestTimeout: 1000, httpFastPath });
        port = (await tracker.listen()).http.port;
      });
      after(() => tracker.close());

      // node:http wrote `100 Continue` straight to the socket, into the middle of an earlier answer.
      it('answers a pipelined `Expect: 100-continue` without a 100 inside an earlier answer', async () => {
        const bytes = Buffer.from(
          head(announce(1)) + head(announce(2), 'Expect: 100-continue\r\n') + head(`/scrape?info_hash=${hash}`),
        );
        assert.equal(await exchange(port, bytes, undefined, 3000), undefined);
      });
      it('answers garbage after pipelined requests only once their answers are out', async () => {
        const bytes = Buffer.from(`${head(announce(3))}${head(announce(4))}GARBAGE \x01\x02 HTTP/9\r\n\r\n`);
        assert.equal(await exchange(port, bytes, undefined, 3000), undefined);
      });
    });
  }
});
