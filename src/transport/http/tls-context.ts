import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/** The certificate (chain) and private key, as PEM bytes read from their files. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

/** What a reload needs of the server: node:https' `setSecureContext`. */
export interface SecureContextTarget {
  setSecureContext(options: TlsFiles): void;
}

/**
 * Reads `--tls-cert` and `--tls-key` and checks that they form a secure context
 * (PEM that parses, a key that matches the certificate): at start a bad pair
 * must stop the tracker with a message naming the file, not fail later at the
 * first client's handshake; at a reload it must not replace a working pair.
 */
export function readTlsFiles(certPath: string, keyPath: string): TlsFiles {
  const cert = readNamed('--tls-cert', certPath);
  const key = readNamed('--tls-key', keyPath);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`--tls-cert ${certPath} with --tls-key ${keyPath}: not a usable pair (${(err as Error).message})`);
  }
  return { cert, key };
}

function readNamed(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${flag} ${path}: cannot read it (${(err as Error).message})`);
  }
}

/**
 * The HTTPS server's certificate, replaceable while it runs (SIGHUP, see
 * Tracker.listen): `setSecureContext` applies to new handshakes only, so
 * connections already open (keep-alive, WebSockets) keep theirs and nothing is
 * dropped. The files are read at construction, so a pair that cannot be used
 * stops the start.
 */
export class TlsCertificates {
  private files: TlsFiles;

  constructor(
    readonly certPath: string,
    readonly keyPath: string,
  ) {
    this.files = readTlsFiles(certPath, keyPath);
  }

  /** The pair in force, as node:https' createServer options. */
  get current(): TlsFiles {
    return this.files;
  }

  /**
   * Re-reads both files and gives them to `server` if they form a context.
   * Returns why not otherwise; the pair in force then stays (a half-written
   * renewal, a key that no longer matches, must not break new handshakes).
   */
  reload(server: SecureContextTarget): { ok: true } | { ok: false; why: string } {
    let next: TlsFiles;
    try {
      next = readTlsFiles(this.certPath, this.keyPath);
      server.setSecureContext(next);
    } catch (err) {
      return { ok: false, why: (err as Error).message };
    }
    this.files = next;
    return { ok: true };
  }
}
