import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A self-signed certificate for 127.0.0.1 and localhost, valid one day, made
 * by openssl (scripts/test.sh installs it) in a fresh temporary directory.
 */
export function selfSignedCert(): { cert: string; key: string; pem: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'bitstorm-cert-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert],
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, `openssl failed (apt-get install openssl): ${r.stderr ?? r.error}`);
  return { cert, key, pem: readFileSync(cert) };
}
