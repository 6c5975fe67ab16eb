/**
 * What the tracker logs through: four levels, each taking a message or an
 * object of fields and a message. pino's logger satisfies it (the CLI's
 * default, logging/create-logger.ts); a library caller may pass its own
 * (tests pass one that collects the lines). Kept this small so that
 * nothing below the CLI depends on pino itself.
 */
export interface LogFn {
  (msg: string): void;
  (fields: object, msg?: string): void;
}

export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `auto`: pretty when standard output is a terminal, JSON lines otherwise (a pipe, a file, journald, Docker). */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** A logger that drops everything (a default for parts built without one, e.g. in unit tests). */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};

/**
 * A `(line) => void` sink for the parts that report plain lines (the stores,
 * the list files), at one level. Their lines start with `bitstorm: ` for the
 * old stderr output; a structured line says who wrote it in its fields, so
 * the prefix goes.
 */
export function lineSink(logger: Logger, level: LogLevel, fields?: object): (line: string) => void {
  return (line) => {
    const msg = line.startsWith('bitstorm: ') ? line.slice('bitstorm: '.length) : line;
    if (fields) logger[level](fields, msg);
    else logger[level](msg);
  };
}

/** How long a cause stays quiet after its line (ErrorOnce). */
const QUIET_MS = 60_000;
/** Distinct causes remembered; past it, new ones share one cause per site (memory stays bounded). */
const MAX_CAUSES = 1000;

/**
 * Errors whose cause may repeat per request (a bug hit by every announce, a
 * socket error on every accept): the first of each cause is logged at once,
 * then at most one line a minute per cause, which says how many were not
 * logged meanwhile. A cause is the site plus the error's message: the same
 * bug is one line, two different ones are two.
 */
export class ErrorOnce {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  error(site: string, err: unknown, msg: string): void {
    let cause = `${site}\n${err instanceof Error ? err.message : String(err)}`;
    // Past MAX_CAUSES distinct messages (an error text that varies per request),
    // new ones share one cause per site: still a line a minute, not a flood.
    if (this.last.size >= MAX_CAUSES && !this.last.has(cause)) cause = `${site}\n*`;
    const now = this.now();
    const seen = this.last.get(cause);
    if (seen && now - seen.at < QUIET_MS) {
      seen.suppressed++;
      return;
    }
    this.last.set(cause, { at: now, suppressed: 0 });
    const fields: Record<string, unknown> = { err, site };
    if (seen && seen.suppressed > 0) fields.suppressed = seen.suppressed;
    this.logger.error(fields, msg);
  }
}

/**
 * For parts built on their own, without a Tracker to hand them its logger
 * (unit tests that construct a transport directly): problems still reach
 * standard error, one plain line each, instead of vanishing.
 */
export const stderrLogger: Logger = {
  error: (a: object | string, msg?: string) => writeStderr('error', a, msg),
  warn: (a: object | string, msg?: string) => writeStderr('warn', a, msg),
  info: () => undefined,
  debug: () => undefined,
};

function writeStderr(level: string, a: object | string, msg?: string): void {
  const text = typeof a === 'string' ? a : `${msg ?? ''} ${JSON.stringify(a, errorFields)}`;
  process.stderr.write(`bitstorm: ${level}: ${text}\n`);
}

/** JSON.stringify drops an Error's message and stack (not enumerable): keep them. */
function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value;
}
