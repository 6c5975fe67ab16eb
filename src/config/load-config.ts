import { readConfigFile } from './config-file.js';
import {
  ConfigError,
  DEFAULTS,
  envName,
  flagName,
  OPTIONS,
  parseValue,
  type TrackerConfig,
  validateConfig,
} from './options.js';

export interface LoadedConfig {
  config: Readonly<TrackerConfig>;
  help: boolean;
}

/**
 * Builds the configuration from a config file, the environment and argv
 * (without node and script); later sources win: defaults < `--config FILE`
 * (or BITSTORM_CONFIG) < environment < flags.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = {}): LoadedConfig {
  const values: Record<string, unknown> = { ...DEFAULTS };
  const file = configPath(argv, env);
  if (file) Object.assign(values, readConfigFile(file));
  for (const spec of OPTIONS) {
    const raw = env[envName(spec.key)];
    if (raw !== undefined && raw !== '') values[spec.key] = parseValue(spec, raw, envName(spec.key));
  }
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}" (see --help)`);
    if (arg === '--config') {
      i++; // read above
      continue;
    }
    if (arg.startsWith('--config=')) continue;
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = OPTIONS.find((o) => flagName(o.key) === name);
    if (!spec) throw new ConfigError(`unknown option --${name} (see --help)`);
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (spec.kind === 'bool' && (argv[i + 1] === undefined || argv[i + 1]?.startsWith('--'))) raw = 'true';
    else if (argv[i + 1] !== undefined) raw = argv[++i] as string;
    else throw new ConfigError(`--${name} needs a value`);
    values[spec.key] = parseValue(spec, raw, `--${name}`);
  }
  return { config: validateConfig(values as unknown as TrackerConfig), help };
}

/** `--config FILE`, `--config=FILE` or BITSTORM_CONFIG; undefined without one. */
function configPath(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  let path = env.BITSTORM_CONFIG || undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--config') {
      path = argv[i + 1];
      if (path === undefined || path.startsWith('--')) throw new ConfigError('--config needs a file');
    } else if (arg.startsWith('--config=')) {
      path = arg.slice('--config='.length);
    }
  }
  return path;
}
