// The inotify watch on a ConfigMap volume (node's fs.watch is inotify on Linux and reports the
// `..data` rename by name), and its re-arming: removing and recreating the source directory (what
// a volume remount looks like) leaves the watch on the deleted inode, silent for good (inotify
// sends IN_DELETE_SELF then IN_IGNORED; node reports them as events named after the directory,
// never as an error): re-arm on the new directory as soon as it is there.
import { statSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import { DATA_LINK, SourceMissingError, isReservedName } from './snapshot.js';

// While the source directory is gone: how often to look for it (a stat), to re-arm the watch.
const REARM_POLL_MS = 100;

export interface VolumeWatchOptions {
  dir: string;
  logger: Logger;
  /** The volume changed (`..data` moved, a key in a plain directory, or the volume is back). */
  onChange: () => void;
  /**
   * Whether the last snapshot came through `..data`: then only its swap matters, and the key
   * symlinks kubelet adds or removes right after the swap would only cause no-op passes.
   */
  atomicWriterLayout: () => boolean;
}

export class VolumeWatch {
  private readonly name: string;
  private watcher: FSWatcher | undefined;
  /** The inode the inotify watch is on. */
  private watchedIno: number | undefined;
  private rearmPoll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: VolumeWatchOptions) {
    this.name = basename(options.dir);
  }

  /** Starts watching; throws SourceMissingError when the directory is not there. */
  start(): void {
    try {
      this.startWatching();
    } catch (err) {
      throw new SourceMissingError(this.options.dir, err);
    }
  }

  /**
   * Re-arms the watch if it is lost (an error) or on a replaced directory. Synchronous (one stat),
   * so two events in a row cannot both start a poll. `replaced`: inotify said the watched
   * directory itself was deleted or moved (a new one may reuse its inode number).
   */
  check(replaced = false): void {
    const { dir, logger } = this.options;
    if (this.closed || this.rearmPoll !== undefined) return;
    let ino: number | undefined;
    try {
      ino = statSync(dir).ino;
    } catch {
      ino = undefined;
    }
    if (!replaced && this.watcher !== undefined && ino === this.watchedIno) return;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.rearm()) return;
    logger.warn(
      { source: dir },
      ino === undefined
        ? `ConfigMap volume ${dir} is gone (unmounted or replaced): watching again as soon as it is back`
        : `cannot watch ConfigMap volume ${dir}: retrying`,
    );
    this.rearmPoll = setInterval(() => this.rearm(), REARM_POLL_MS);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.rearmPoll);
    this.watcher?.close();
  }

  private rearm(): boolean {
    try {
      this.startWatching();
    } catch {
      return false; // not back yet
    }
    clearInterval(this.rearmPoll);
    this.rearmPoll = undefined;
    this.options.logger.info({ source: this.options.dir }, 'ConfigMap volume is back: watching it again');
    this.options.onChange();
    return true;
  }

  private startWatching(): void {
    const { dir, logger } = this.options;
    const ino = statSync(dir).ino;
    const fsWatcher = watch(dir, { persistent: true }, (_event, filename) => {
      const name = filename?.toString();
      // IN_DELETE_SELF / IN_MOVE_SELF, reported under the directory's own name (once the watch is
      // gone, the following IN_IGNORED finds the new watch armed and does nothing).
      if (name === this.name && fsWatcher === this.watcher) this.check(true);
      if (name === undefined || name === DATA_LINK || (!this.options.atomicWriterLayout() && !isReservedName(name))) this.options.onChange();
    });
    this.watcher?.close();
    this.watchedIno = ino;
    fsWatcher.on('error', (err) => {
      logger.error({ err, source: dir }, 'inotify watch failed; watching again');
      fsWatcher.close();
      if (this.watcher === fsWatcher) this.watcher = undefined;
      this.check();
    });
    this.watcher = fsWatcher;
  }
}
