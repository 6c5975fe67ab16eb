/**
 * `--log-format pretty`: one pino JSON line → `HH:MM:SS LEVEL msg key=value …`
 * for a person at a terminal. Built in rather than pino-pretty (another
 * dependency, with its own colours and layout) because the tracker logs a
 * few lines a minute at most: parsing each line again costs nothing, and the
 * start-up lines then read as they did before structured logs.
 */

/** Fields every line has, or that the layout shows elsewhere. */
const LAYOUT_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'err']);

export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`; // not ours: pass it on unchanged
  }
  const time = typeof record.time === 'string' ? new Date(record.time) : new Date();
  const clock = [time.getHours(), time.getMinutes(), time.getSeconds()].map((n) => String(n).padStart(2, '0'));
  const msg = typeof record.msg === 'string' ? record.msg : '';
  const lowerMsg = msg.toLowerCase();
  const parts = [
    clock.join(':'),
    String(record.level ?? '')
      .toUpperCase()
      .padEnd(5),
    msg,
  ];
  for (const [key, value] of Object.entries(record)) {
    if (LAYOUT_FIELDS.has(key) || value === undefined) continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    // The start-up lines carry their address, port and URL both in the message
    // (for people) and as fields (for machines): say each once here. The worker
    // id is always shown: a short number may well appear in the message.
    if (key !== 'worker' && text.length >= 3 && lowerMsg.includes(text.toLowerCase())) continue;
    parts.push(`${key}=${/[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text}`);
  }
  let out = parts.join(' ');
  const err = record.err as { type?: string; message?: string; stack?: string } | undefined;
  if (err) {
    out += ` err=${JSON.stringify(err.message ?? '')}`;
    // The stack goes below, indented, as node prints an uncaught error.
    if (err.stack) out += `\n${err.stack.replace(/^/gm, '    ')}`;
  }
  return `${out}\n`;
}
