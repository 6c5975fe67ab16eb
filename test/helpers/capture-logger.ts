import type { Logger, LogLevel } from '../../src/logging/logger.js';

export interface LoggedLine {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

/** A Logger (the tracker's `logger` option) that keeps every line, for tests to read. */
export function captureLogger(): Logger & { lines: LoggedLine[]; at(level: LogLevel): LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const at =
    (level: LogLevel) =>
    (a: object | string, msg?: string): void => {
      if (typeof a === 'string') lines.push({ level, msg: a, fields: {} });
      else lines.push({ level, msg: msg ?? '', fields: { ...a } as Record<string, unknown> });
    };
  return {
    lines,
    at: (level) => lines.filter((l) => l.level === level),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
  };
}
