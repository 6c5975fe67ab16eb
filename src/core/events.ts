import type { AnnounceEvent, Transport } from '../protocol/types.js';

/**
 * Typed events the core emits; the stats collector and metrics subscribe.
 * A plain listener array rather than EventEmitter: emit is on every announce.
 */
export interface TrackerEventMap {
  /** `ms`: the core's time for the announce, store included; `storeMs`: the store's part (metrics). */
  announce: { transport: Transport; event: AnnounceEvent; family: 4 | 6; ms?: number; storeMs?: number };
  scrape: { transport: Transport; hashes: number; ms?: number };
  /** A request refused: `code` is the error's stable code. */
  failure: { transport: Transport; code: string };
}

type Listener<T> = (payload: T) => void;

export class TrackerEvents {
  private readonly listeners: { [K in keyof TrackerEventMap]: Listener<TrackerEventMap[K]>[] } = {
    announce: [],
    scrape: [],
    failure: [],
  };

  on<K extends keyof TrackerEventMap>(type: K, listener: Listener<TrackerEventMap[K]>): () => void {
    const list = this.listeners[type] as Listener<TrackerEventMap[K]>[];
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  emit<K extends keyof TrackerEventMap>(type: K, payload: TrackerEventMap[K]): void {
    const list = this.listeners[type] as Listener<TrackerEventMap[K]>[];
    for (let i = 0; i < list.length; i++) (list[i] as Listener<TrackerEventMap[K]>)(payload);
  }
}
