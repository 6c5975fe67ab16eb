import { readFileSync, unwatchFile, watchFile } from 'node:fs';

/** How often the list file is checked for changes (fs.watchFile polls; it also sees a file replaced by a rename). */
const POLL_MS = 2000;

/** A list file's text → its entries, and `line N: why` for each line skipped (never the line's text: it may be a secret). */
export type ListParser = (text: string) => { entries: ReadonlySet<string>; problems: string[] };

/**
 * A list kept in a file (an allow or deny list, the passkeys): read at start (a file that cannot be
 * read is an error then), and again on SIGHUP and whenever the file changes
 * (within POLL_MS). Each read is parsed whole before it replaces the list; a
 * read that fails later keeps the list in force and is logged.
 */
export class ListFile {
  private readonly onHup = (): void => this.reload('SIGHUP');
  private watching = false;

  constructor(
    private readonly path: string,
    private readonly parse: ListParser,
    private readonly apply: (entries: ReadonlySet<string>) => void,
    private readonly log: (line: string) => void,
  ) {
    this.read();
  }

  /** Starts following the file (and SIGHUP). */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    watchFile(this.path, { interval: POLL_MS, persistent: false }, (now, before) => {
      if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) this.reload('change');
    });
    process.on('SIGHUP', this.onHup);
  }

  close(): void {
    this.watching = false;
    unwatchFile(this.path);
    process.off('SIGHUP', this.onHup);
  }

  private reload(why: string): void {
    try {
      this.read();
    } catch (err) {
      this.log(`bitstorm: ${this.path} not reloaded (${why}): ${(err as Error).message}; the previous list stays`);
    }
  }

  private read(): void {
    const { entries, problems } = this.parse(readFileSync(this.path, 'utf8'));
    for (const problem of problems.slice(0, 20)) this.log(`bitstorm: ${this.path} ${problem}`);
    if (problems.length > 20) this.log(`bitstorm: ${this.path}: ${problems.length - 20} more lines skipped`);
    this.apply(entries);
  }
}
