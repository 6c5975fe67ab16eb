import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import {
  ConfigError,
  DEFAULTS,
  flagName,
  OPTIONS,
  type OptionSpec,
  parseValue,
  type TrackerConfig,
} from './options.js';

/**
 * `--config FILE`: a TOML file of options, keyed by their flag names
 * (`peer-ttl = 1860`, `trust-proxy = ["10.0.0.0/8"]`). Every value goes
 * through the same parser and checks as a flag; an unknown key, a table or a
 * value of the wrong kind is refused with the file, line and key.
 */
export function readConfigFile(path: string): Partial<Record<keyof TrackerConfig, unknown>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config ${path}: ${(err as Error).message}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    const where = err instanceof TomlError ? `:${err.line}:${err.column}` : '';
    throw new ConfigError(`${path}${where}: not valid TOML (${(err as Error).message.split('\n')[0]})`);
  }
  const lines = text.split(/\r?\n/);
  const lineOf = (key: string): number => {
    // `key = …`, `key.sub = …` or a table header `[key]`.
    const re = new RegExp(`^\\s*\\[?\\s*["']?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']?\\s*[=.\\]]`);
    const i = lines.findIndex((l) => re.test(l));
    return i + 1;
  };
  const values: Partial<Record<keyof TrackerConfig, unknown>> = {};
  for (const [key, value] of Object.entries(doc)) {
    const at = `${path}:${lineOf(key)}: ${key}`;
    const spec = OPTIONS.find((o) => flagName(o.key) === key);
    if (!spec) throw new ConfigError(`${at}: unknown option (the keys are the flags' names, as in --help)`);
    values[spec.key] = parseValue(spec, rawOf(spec, value, at), at);
  }
  return values;
}

/** A TOML value as the text a flag would carry, so one parser checks both. */
function rawOf(spec: OptionSpec, value: unknown, at: string): string {
  if (Array.isArray(value)) {
    if (spec.kind !== 'list' || !value.every((v) => typeof v === 'string')) {
      throw new ConfigError(
        `${at}: ${spec.kind === 'list' ? 'expected a list of strings' : 'a list is not expected here'}`,
      );
    }
    return value.join(',');
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  throw new ConfigError(`${at}: expected a string, number or boolean (tables are not options)`);
}

/**
 * `bitstorm print-config`: the effective configuration as a TOML file that
 * `--config` accepts unchanged, every option with its help, default and
 * environment name as a comment.
 */
export function configToToml(config: Readonly<TrackerConfig>): string {
  const out = [
    '# BitStorm configuration (bitstorm --config FILE). Precedence: defaults < this file <',
    "# environment (BITSTORM_<OPTION>) < command-line flags. Keys are the flags' names.",
    '',
  ];
  for (const spec of OPTIONS) {
    const dflt = spec.defaultText ?? tomlValue(spec, DEFAULTS[spec.key]);
    out.push(
      `# ${spec.help}`,
      `# default: ${dflt}; environment: BITSTORM_${flagName(spec.key).replace(/-/g, '_').toUpperCase()}`,
    );
    out.push(`${flagName(spec.key)} = ${tomlValue(spec, config[spec.key])}`, '');
  }
  return out.join('\n');
}

function tomlValue(spec: OptionSpec, value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => JSON.stringify(String(v))).join(', ')}]`;
  if (spec.kind === 'on-off' || spec.kind === 'on-off-force') {
    return JSON.stringify(value === 'force' ? 'force' : value ? 'on' : 'off');
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(String(value));
}
