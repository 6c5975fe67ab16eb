import { destination, multistream, pino, stdTimeFunctions } from 'pino';
import type { LogFormat, Logger, LogLevel } from './logger.js';
import { prettyLine } from './pretty.js';

export interface CreateLoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Fields on every line, e.g. `{ worker: 2 }` under --workers. */
  bindings?: Record<string, unknown>;
  /** Where lines of `info` and `debug` go (tests); standard output by default. */
  out?: { write(text: string): unknown };
  /** Where `warn` and `error` lines go; standard error by default. */
  err?: { write(text: string): unknown };
}

/** The format `auto` stands for in this process. */
export function resolveFormat(format: LogFormat): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return process.stdout.isTTY ? 'pretty' : 'json';
}

/**
 * The tracker's pino logger. Lines below `warn` go to standard output and
 * `warn`/`error` to standard error, as console.log/console.error did before:
 * a shell's `2>` still separates problems, and journald and Docker collect
 * both. Writes are synchronous (destination sync, process.stdout on
 * Linux pipes), so the line before a process.exit() is not lost; the
 * tracker logs nothing per request at `info`, so this costs nothing on the
 * hot path.
 */
export function createLogger(options: CreateLoggerOptions): Logger & { child(bindings: object): Logger } {
  const format = resolveFormat(options.format);
  const out = options.out ?? standardStream(format, 1);
  const err = options.err ?? standardStream(format, 2);
  const wrap = (sink: { write(text: string): unknown }) =>
    format === 'pretty' ? { write: (line: string) => sink.write(prettyLine(line)) } : sink;
  const streams = multistream(
    [
      { level: 'debug', stream: wrap(out) },
      { level: 'warn', stream: wrap(err) },
    ],
    // Each line to the one stream of the highest level it reaches: warn and error to stderr only.
    { dedupe: true },
  );
  return pino(
    {
      level: options.level,
      // Level names, not pino's numbers: `jq 'select(.level=="error")'` reads as it says.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: stdTimeFunctions.isoTime,
      base: { pid: process.pid, hostname: undefined, ...options.bindings },
    },
    streams,
  );
}

/**
 * Standard output or error for the logger. A write that fails (the reader of
 * a pipe went away: `bitstorm | head`, a log collector restarting) must not
 * take the tracker down, as console.log's did not: the error is dropped, and
 * so are the lines until the stream works again.
 */
function standardStream(format: 'json' | 'pretty', fd: 1 | 2): { write(text: string): unknown } {
  const stream: NodeJS.EventEmitter & { write(text: string): unknown } =
    format === 'json' ? destination({ dest: fd, sync: true }) : fd === 1 ? process.stdout : process.stderr;
  if (stream.listenerCount('error') === 0) stream.on('error', () => undefined);
  return stream;
}
