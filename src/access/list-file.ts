import { readFileSync, type Stats, stat, statSync } from 'node:fs';
import type { Logger } from '../logging/logger.js';

/** How often the list file is checked for changes (a stat; it also sees a file replaced by a rename). */
const POLL_MS = 2000;

/** A list file's text → its entries, and `line N: why` for each line skipped (never the line's text: it may be a secret). */
export type ListParser = (text: string) => { entries: ReadonlySet<string>; problems: string[] };

/**
 * A list kept in a file (an allow or deny list, the passkeys): read at start
 * (a file that cannot be read is an error then), and again on SIGHUP and
 * whenever the file changes (within POLL_MS). Each read is parsed whole before
 * it replaces the list; a read that fails later keeps the list in force and is
 * logged (error). Each read that applies says so at info, with the number of
 * entries before and after (never the entries: passkeys are secrets), so the
 * operator who sent SIGHUP sees what it did.
 *
 * Changes are found by comparing the file's stat with the one taken when it
 * was last read, not poll with poll (fs.watchFile): its first poll could come
 * after a change made right after the read, which would then never be seen.
 */
export class ListFile {
  private readonly onHup = (): void => this.reload('SIGHUP');
  private timer: NodeJS.Timeout | undefined;
  /** The file's stat when it was last read (undefined: it could not be stat'ed). */
  private readStat: Stats | undefined;
  private polling = false;
  /** Entries of the list in force (undefined before the first read). */
  private count: number | undefined;

  constructor(
    private readonly path: string,
    private readonly parse: ListParser,
    private readonly apply: (entries: ReadonlySet<string>) => void,
    private readonly logger: Logger,
    /** What the list is, for the log: `allow list`, `deny list`, `keys`. */
    private readonly what: string,
  ) {
    this.read('start');
  }

  /** Starts following the file (and SIGHUP). */
  watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    process.on('SIGHUP', this.onHup);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    process.off('SIGHUP', this.onHup);
  }

  private poll(): void {
    if (this.polling) return;
    this.polling = true;
    stat(this.path, (err, now) => {
      this.polling = false;
      if (err || !this.timer) return; // gone: the list stays until the file is back (or SIGHUP says why)
      const before = this.readStat;
      if (!before || now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) {
        this.reload('change');
      }
    });
  }

  private reload(why: string): void {
    try {
      this.read(why);
    } catch (err) {
      this.logger.error(
        { list: this.what, file: this.path, why, error: (err as Error).message },
        `${this.what} ${this.path} not reloaded (${why}): ${(err as Error).message}; the previous list stays`,
      );
    }
  }

  private read(why: string): void {
    // Stat first: a change between the stat and the read is then seen at the next poll.
    const before = statSync(this.path);
    const { entries, problems } = this.parse(readFileSync(this.path, 'utf8'));
    this.readStat = before;
    const fields = { list: this.what, file: this.path };
    for (const problem of problems.slice(0, 20)) this.logger.warn(fields, `${this.path} ${problem}`);
    if (problems.length > 20) this.logger.warn(fields, `${this.path}: ${problems.length - 20} more lines skipped`);
    this.apply(entries);
    const was = this.count;
    this.count = entries.size;
    const change = was === undefined ? '' : ` (was ${was})`;
    this.logger.info(
      { ...fields, why, entries: entries.size, ...(was === undefined ? {} : { was }), skipped: problems.length },
      `${this.what} ${was === undefined ? 'loaded' : `reloaded (${why})`} from ${this.path}: ${entries.size} entries${change}`,
    );
  }
}
