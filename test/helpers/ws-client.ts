import { once } from 'node:events';
import WebSocket from 'ws';
import { makeId } from './http-tracker-client.js';

/** A WebSocket tracker client for tests: sends JSON, keeps every message, waits (bounded) for one. */
export interface WsTestClient {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  send(message: unknown): void;
  /** The first message (received so far or later) that matches, within `ms`. */
  next(match: (m: Record<string, unknown>) => boolean, what: string, ms?: number): Promise<Record<string, unknown>>;
  /** Resolves when the socket is closed (by either side), within `ms`. */
  closed(ms?: number): Promise<number>;
  close(): void;
}

export async function wsConnect(
  url: string,
  options: { headers?: Record<string, string> } = {},
): Promise<WsTestClient> {
  const ws = new WebSocket(url, options);
  const messages: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Record<string, unknown>);
    for (const wake of waiters) wake();
  });
  ws.on('error', () => undefined);
  let closeCode: number | undefined;
  const closing = new Promise<number>((resolve) =>
    ws.on('close', (code) => {
      closeCode = code;
      resolve(code);
    }),
  );
  await once(ws, 'open');
  return {
    ws,
    messages,
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
    next(match, what, ms = 5000) {
      return new Promise((resolve, reject) => {
        const wake = (): void => {
          const found = messages.find(match);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(messages)}`));
        }, ms);
        waiters.add(wake);
        wake();
      });
    },
    closed(ms = 5000) {
      if (closeCode !== undefined) return Promise.resolve(closeCode);
      return Promise.race([
        closing,
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms)),
      ]);
    },
    close: () => ws.close(),
  };
}

/** A 20-byte id as the WebSocket protocol's binary string (latin1), with bytes ≥ 0x80 and JSON escapes in it. */
export function wsId(tag: string, n: number): string {
  const id = makeId(tag, n);
  id[8] = 0xff;
  id[9] = 0x22; // "
  id[10] = 0x5c; // \
  id[11] = 0x00;
  return id.toString('latin1');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
