import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/** The machine and the versions under test, printed beside every result (figures mean nothing without them). */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  opentracker: string;
  bittorrentTracker: string;
  redis: string;
  bitstorm: string;
  load: string;
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

export function machineInfo(repoRoot: string, depsDir: string): MachineInfo {
  let btVersion = 'not installed';
  try {
    btVersion = (
      JSON.parse(readFileSync(`${depsDir}/node_modules/bittorrent-tracker/package.json`, 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    // not installed
  }
  const pkg = JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { version: string };
  const commit = run('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']);
  // Others' work in progress is measured too (the bench runs the compiled working tree): say so.
  const dirty = run('git', ['-C', repoRoot, 'status', '--porcelain', '--', 'src', 'bin']) !== '';
  const redis = /v=(\S+)/.exec(run('redis-server', ['--version']))?.[1] ?? 'not installed';
  // dpkg-query's own ${Version} field syntax, not a template placeholder.
  const ot = run('dpkg-query', ['-W', `-f=${'$'}{Version}`, 'opentracker']) || 'not installed';
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: run('uname', ['-r']),
    node: process.version,
    opentracker: ot,
    bittorrentTracker: btVersion,
    redis,
    bitstorm: `${pkg.version}${commit ? ` (${commit}${dirty ? ' + uncommitted changes in src/' : ''})` : ''}`,
    load: loadAverage(),
  };
}
