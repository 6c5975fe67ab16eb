import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplyQueue } from '../../src/transport/udp/reply-queue.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('UDP reply queue', () => {
  it('sends the replies of one turn together at its end, in order', async () => {
    const sent: string[] = [];
    const q = new ReplyQueue((packet, port, address) => sent.push(`${packet.toString()}@${address}:${port}`));
    q.push(Buffer.from('a'), 1, '127.0.0.1');
    q.push(Buffer.from('b'), 2, '::1');
    await Promise.resolve(); // microtasks run before the turn ends: still queued
    q.push(Buffer.from('c'), 3, '127.0.0.2');
    assert.deepEqual(sent, []);
    assert.equal(q.length, 3);
    await turn();
    assert.deepEqual(sent, ['a@127.0.0.1:1', 'b@::1:2', 'c@127.0.0.2:3']);
    assert.equal(q.length, 0);
  });

  it('starts a new batch for replies queued while one is being sent', async () => {
    const sent: string[] = [];
    const q = new ReplyQueue((packet) => {
      sent.push(packet.toString());
      if (packet.toString() === 'first') q.push(Buffer.from('later'), 1, '127.0.0.1');
    });
    q.push(Buffer.from('first'), 1, '127.0.0.1');
    await turn();
    assert.deepEqual(sent, ['first']);
    await turn();
    assert.deepEqual(sent, ['first', 'later']);
  });

  it('sends nothing twice and nothing when empty', async () => {
    let sends = 0;
    const q = new ReplyQueue(() => sends++);
    q.flush();
    q.push(Buffer.from('x'), 1, '127.0.0.1');
    q.flush();
    await turn();
    assert.equal(sends, 1);
  });
});
