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

export class TrackerError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The request itself is malformed. */
export class ProtocolError extends TrackerError {}

/** A well-formed request refused by policy. */
export class PolicyError extends TrackerError {}

/** The store could not serve the request; clients should retry (BEP 31 `retry in`). */
export class StoreError extends TrackerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('store_unavailable', message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
