import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DEFAULTS, effectiveLogLevel } from '../../src/config/options.js';
import { createLogger } from '../../src/logging/create-logger.js';
import { ErrorOnce, lineSink } from '../../src/logging/logger.js';
import { prettyLine } from '../../src/logging/pretty.js';
import { captureLogger } from '../helpers/capture-logger.js';

describe('ErrorOnce', () => {
  it('logs a cause once, then at most once a minute with the count it left out; other causes at once', () => {
    const logger = captureLogger();
    let now = 1_000_000;
    const errors = new ErrorOnce(logger, () => now);
    const bug = new Error('boom');
    for (let i = 0; i < 100; i++) errors.error('http', bug, 'internal error (HTTP)');
    errors.error('http', new Error('other'), 'internal error (HTTP)');
    errors.error('udp', bug, 'internal error (UDP)');
    assert.deepEqual(
      logger.lines.map((l) => [l.level, l.msg, l.fields.site, (l.fields.err as Error).message, l.fields.suppressed]),
      [
        ['error', 'internal error (HTTP)', 'http', 'boom', undefined],
        ['error', 'internal error (HTTP)', 'http', 'other', undefined],
        ['error', 'internal error (UDP)', 'udp', 'boom', undefined],
      ],
    );
    now += 59_999;
    errors.error('http', bug, 'internal error (HTTP)');
    assert.equal(logger.lines.length, 3, 'still quiet within the minute');
    now += 1;
    errors.error('http', bug, 'internal error (HTTP)');
    assert.equal(logger.lines.length, 4);
    assert.equal(logger.lines[3]?.fields.suppressed, 100, 'the 99 repeats and the one a moment ago');
  });
});

describe('lineSink', () => {
  it("drops the old 'bitstorm: ' prefix and adds the fields", () => {
    const logger = captureLogger();
    lineSink(logger, 'error', { store: 'redis' })('bitstorm: Redis connection restored');
    assert.deepEqual(logger.lines, [{ level: 'error', msg: 'Redis connection restored', fields: { store: 'redis' } }]);
  });
});

describe('effectiveLogLevel', () => {
  it('--quiet is warn, unless --log-level error asks for less', () => {
    const at = (logLevel: typeof DEFAULTS.logLevel, quiet: boolean) => effectiveLogLevel({ logLevel, quiet });
    assert.equal(at('info', false), 'info');
    assert.equal(at('info', true), 'warn');
    assert.equal(at('debug', true), 'warn');
    assert.equal(at('error', true), 'error');
    assert.equal(at('error', false), 'error');
  });
});

describe('createLogger', () => {
  it('writes info and debug to one stream, warn and error to the other, one JSON object a line', () => {
    const out: string[] = [];
    const err: string[] = [];
    const logger = createLogger({
      level: 'debug',
      format: 'json',
      bindings: { worker: 3 },
      out: { write: (t: string) => out.push(t) },
      err: { write: (t: string) => err.push(t) },
    });
    logger.debug('d');
    logger.info({ port: 1 }, 'i');
    logger.warn('w');
    logger.error({ err: new Error('e!') }, 'e');
    const parse = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      parse(out).map((l) => [l.level, l.msg, l.worker, l.port]),
      [
        ['debug', 'd', 3, undefined],
        ['info', 'i', 3, 1],
      ],
    );
    const errLines = parse(err);
    assert.deepEqual(
      errLines.map((l) => [l.level, l.msg, l.worker]),
      [
        ['warn', 'w', 3],
        ['error', 'e', 3],
      ],
    );
    assert.equal((errLines[1]?.err as { message: string }).message, 'e!');
  });

  it('leaves out lines below its level', () => {
    const out: string[] = [];
    const logger = createLogger({ level: 'warn', format: 'json', out: { write: (t: string) => out.push(t) } });
    logger.info('not this');
    logger.debug('nor this');
    assert.deepEqual(out, []);
  });
});

describe('prettyLine', () => {
  it('prints HH:MM:SS LEVEL msg key=value, leaving out what the message says already', () => {
    const time = new Date(2026, 0, 2, 3, 4, 5).toISOString();
    const line = JSON.stringify({
      level: 'info',
      time,
      pid: 1,
      worker: 1,
      transport: 'udp',
      port: 6969,
      why: 'SIGHUP now',
      msg: 'UDP tracker listening on [::]:6969',
    });
    assert.equal(prettyLine(line), '03:04:05 INFO  UDP tracker listening on [::]:6969 worker=1 why="SIGHUP now"\n');
  });

  it('puts an error stack below, indented', () => {
    const line = JSON.stringify({
      level: 'error',
      time: new Date().toISOString(),
      msg: 'internal error (HTTP)',
      err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' },
    });
    assert.match(
      prettyLine(line),
      /^\d\d:\d\d:\d\d ERROR internal error \(HTTP\) err="boom"\n {4}Error: boom\n {8}at x\n$/,
    );
  });
});

describe('ErrorOnce with error texts that vary per request', () => {
  it('keeps at most 1,000 causes; the rest share one per site, so a flood is still a line a minute', () => {
    const logger = captureLogger();
    const errors = new ErrorOnce(logger, () => 0);
    for (let i = 0; i < 5000; i++) errors.error('http', new Error(`bad ${i}`), 'internal error (HTTP)');
    assert.equal(logger.lines.length, 1001);
  });
});
