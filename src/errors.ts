/**
 * Error taxonomy (see docs/errors.md). Only transports turn these into wire bytes:
 * - ProtocolError: the request is malformed (the client's fault).
 * - PolicyError: the request is well-formed but refused by tracker policy.
 * - StoreError: the store failed (internal); the client is told to retry later.
 * Every error has a stable `code`; the message is what clients see as `failure reason`.
 */
/** Every stable error code; docs/errors.md documents each (a test keeps the two in sync). */
export const ERROR_CODES = [
  'missing_param',
  'invalid_info_hash',
  'invalid_peer_id',
  'invalid_port',
  'invalid_number',
  'invalid_event',
  'invalid_encoding',
  'invalid_ip',
  'too_many_info_hashes',
  'full_scrape_disabled',
  'key_mismatch',
  'torrent_not_allowed',
  'client_not_allowed',
  'unknown_passkey',
  // A source (IPv4 address, IPv6 /64) past --rate-limit.
  'rate_limited',
  'store_unavailable',
  // UDP (BEP 15): a packet that does not parse, is too large, names no known
  // action, or carries a connection id we did not issue (or that expired).
  'malformed_packet',
  'packet_too_large',
  'unknown_action',
  'invalid_connection_id',
  // WebSocket: a frame that is not a JSON object of the expected shape, and one
  // socket announcing more torrents than it may hold.
  'malformed_message',
  'too_many_torrents',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Minutes a client is told to wait (BEP 31 `retry in`) when waiting helps: the store is back, the budget refilled. */
export const RETRY_IN_MINUTES = 1;

export class TrackerError extends Error {
  readonly code: ErrorCode;
  /** BEP 31 `retry in` (minutes) for the failure reason, when trying again later will work. */
  readonly retryIn: number | undefined;
  constructor(code: ErrorCode, message: string, retryIn?: number) {
    super(message);
    this.code = code;
    this.retryIn = retryIn;
    this.name = new.target.name;
  }
}

/** The request itself is malformed. */
export class ProtocolError extends TrackerError {}

/** A well-formed request refused by policy. */
export class PolicyError extends TrackerError {}

/**
 * A source past its request budget (--rate-limit). One instance serves every
 * refusal (see RATE_LIMITED): a flood must not cost a stack trace per request.
 */
export class RateLimitError extends PolicyError {
  constructor() {
    super('rate_limited', 'too many requests from your address', RETRY_IN_MINUTES);
  }
}

export const RATE_LIMITED = new RateLimitError();

/** The store could not serve the request; clients should retry (BEP 31 `retry in`). */
export class StoreError extends TrackerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_unavailable', message, RETRY_IN_MINUTES);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** What a store's failure becomes for the client: the StoreError itself, or one that keeps the failure as its cause. */
export function asStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new StoreError('tracker storage is unavailable, retry later', { cause: err });
}

/** A promise's rejection handler that rejects with asStoreError(err). */
export function rethrowAsStoreError(err: unknown): never {
  throw asStoreError(err);
}
