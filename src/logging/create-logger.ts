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
  const out = options.out ?? (format === 'json' ? destination({ dest: 1, sync: true }) : process.stdout);
  const err = options.err ?? (format === 'json' ? destination({ dest: 2, sync: true }) : process.stderr);
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
