// Writing into the directory Envoy watches. Envoy reloads a `path_config_source` file only on
// IN_MOVED_TO of its exact name, so every publish is: write a temp file in the same directory (a
// rename across filesystems is a copy, not a move), fsync it, rename it onto the final name.
// Temp names start with `..`, which a ConfigMap key can never do, so Envoy never watches one.
import { closeSync, fchmodSync, fstatSync, openSync, renameSync, statSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, readFile, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isConfigFile } from '../envoy/yaml.js';
import { isReservedName } from '../volume/snapshot.js';

// statfs f_type of a tmpfs (linux/magic.h TMPFS_MAGIC): the memory-backed emptyDir the injector deploys.
const TMPFS_MAGIC = 0x01021994;

/** Whether `dir` is on a tmpfs (one statfs; false when it cannot be asked). */
export function isMemoryBacked(dir: string): boolean {
  return memoryBacked(dir) ?? false;
}

/** Whether `dir` is on a tmpfs (one statfs); undefined when it cannot be asked (e.g. `dir` does not exist yet). */
export function memoryBacked(dir: string): boolean | undefined {
  try {
    return statfsSync(dir).type === TMPFS_MAGIC;
  } catch {
    return undefined;
  }
}

// Published files must be readable by Envoy, which runs as another user than the watcher.
const FILE_MODE = 0o644;
const TEMP_NAME = /^\.\..*\.tmp-\d+-\d+$/;

export interface StagedFile {
  name: string;
  tempPath: string;
  identity: FileIdentity;
}

/** What we published under a name, and how to tell the file on disk is still that one. */
interface FileIdentity {
  sha256: string;
  ino: number;
  size: number;
  mtimeMs: number;
}

/** How a source file compares with what the target holds. */
export type TargetState = 'same' | 'different' | 'absent';

/** A configuration file found in the target (published by `copy` or a previous watcher). */
export interface FoundFile {
  name: string;
  content: Buffer;
  ino: number;
  mtimeMs: number;
}

/** The configuration files (envoy/yaml.ts `isConfigFile`) in `dir`, by name, without our `..` entries. */
export async function configFilesIn(dir: string): Promise<FoundFile[]> {
  const found: FoundFile[] = [];
  for (const name of (await readdir(dir)).filter((entry) => !isReservedName(entry)).sort()) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile() !== true || !isConfigFile(name)) continue;
    found.push({ name, content: await readFile(path), ino: info.ino, mtimeMs: info.mtimeMs });
  }
  return found;
}

/**
 * The configuration files among `names` in `dir`, found as configFilesIn finds them (sorted by name),
 * reading only those: a name that is missing, reserved, not a configuration file, not a regular
 * file or not readable is left out. For a caller that knows which files it wants (a few of many).
 */
export async function configFilesNamed(dir: string, names: readonly string[]): Promise<FoundFile[]> {
  const found: FoundFile[] = [];
  for (const name of [...new Set(names)].filter((entry) => !entry.includes('/') && !isReservedName(entry) && isConfigFile(entry)).sort()) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile() !== true) continue;
    const content = await readFile(path).catch(() => undefined);
    if (content !== undefined) found.push({ name, content, ino: info.ino, mtimeMs: info.mtimeMs });
  }
  return found;
}

export class TargetDirectory {
  private tempCounter = 0;
  // Digests of the files we published, so a pass compares hashes instead of re-reading (and
  // allocating) every target file; trusted only while inode, size and mtime still match.
  private readonly published = new Map<string, FileIdentity>();
  private memoryBacked: boolean | undefined;
  /** Renames onto a published name so far (every one is a reload for Envoy). */
  renames = 0;

  constructor(readonly dir: string) {}

  /**
   * Whether the directory is a tmpfs. There `fsync` does nothing (shmem's `noop_fsync`, Linux
   * mm/shmem.c) and every file operation is a memory copy of microseconds, so a file is staged with
   * synchronous calls and no fsync: the asynchronous path costs five round trips through libuv's
   * thread pool per file (0.4-0.5 ms for two small files, all of it before the first rename).
   */
  private isMemoryBacked(): boolean {
    this.memoryBacked ??= isMemoryBacked(this.dir);
    return this.memoryBacked;
  }

  /**
   * Compares `content` with the target's file of that name. `content` may be a function: it is
   * called only when the file has to be read (not one we published, or changed behind our back).
   */
  async compare(name: string, content: Buffer | (() => Buffer), contentSha256: string): Promise<TargetState> {
    const path = join(this.dir, name);
    const known = this.published.get(name);
    if (known !== undefined) {
      // A stat of a file in the target: metadata in memory, no round trip through the thread pool.
      const info = statSync(path, { throwIfNoEntry: false });
      if (info?.ino === known.ino && info.size === known.size && info.mtimeMs === known.mtimeMs) {
        return known.sha256 === contentSha256 ? 'same' : 'different';
      }
      this.published.delete(name); // changed behind our back: read it
    }
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
      throw err;
    }
    try {
      const info = await handle.stat();
      const current = await handle.readFile();
      if (!current.equals(typeof content === 'function' ? content() : content)) return 'different';
      // The same content, published by someone else (`copy`, a previous watcher): remembered like
      // our own, so the next pass stats it instead of reading it again (the bootstrap, every pass).
      this.published.set(name, { sha256: contentSha256, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs });
      return 'same';
    } finally {
      await handle.close();
    }
  }

  /**
   * The target's file `name`: its inode, and the sha256 of its content when it is what this
   * directory last renamed (or compared) there, unchanged since (undefined: not known without
   * reading it). Undefined if there is no such file.
   */
  async current(name: string): Promise<{ ino: number; sha256: string | undefined } | undefined> {
    const info = await stat(join(this.dir, name)).catch(() => undefined);
    if (info === undefined) return undefined;
    const known = this.published.get(name);
    const same = known?.ino === info.ino && known.size === info.size && known.mtimeMs === info.mtimeMs;
    return { ino: info.ino, sha256: same ? known.sha256 : undefined };
  }

  /** Names of published files: everything except our `..` entries (temp files, ready file). */
  async publishedNames(): Promise<string[]> {
    return (await readdir(this.dir)).filter((name) => !isReservedName(name));
  }

  /** Writes content to a fresh temp file and fsyncs it; nothing is visible under `name` yet. */
  async stage(name: string, content: Buffer, contentSha256: string): Promise<StagedFile> {
    // Keep the temp name within NAME_MAX (255) even for a 253-character key.
    const tempPath = join(this.dir, `..${name.slice(0, 200)}.tmp-${process.pid}-${++this.tempCounter}`);
    if (this.isMemoryBacked()) return this.stageInMemory(name, tempPath, content, contentSha256);
    const handle = await open(tempPath, 'wx', FILE_MODE);
    let identity: FileIdentity;
    try {
      await handle.writeFile(content);
      await handle.sync();
      // rename keeps inode and mtime, so this is what the published file will look like
      let info = await handle.stat();
      if ((info.mode & 0o777) !== FILE_MODE) {
        await handle.chmod(FILE_MODE); // open()'s mode was narrowed by the umask
        info = await handle.stat();
      }
      identity = { sha256: contentSha256, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs };
    } catch (err) {
      await handle.close();
      await unlink(tempPath).catch(() => undefined);
      throw err;
    }
    await handle.close();
    return { name, tempPath, identity };
  }

  /** `stage` on a tmpfs: the same steps, synchronous, without the fsync that does nothing there. */
  private stageInMemory(name: string, tempPath: string, content: Buffer, contentSha256: string): StagedFile {
    const fd = openSync(tempPath, 'wx', FILE_MODE);
    let identity: FileIdentity;
    try {
      writeFileSync(fd, content);
      let info = fstatSync(fd);
      if ((info.mode & 0o777) !== FILE_MODE) {
        fchmodSync(fd, FILE_MODE); // open()'s mode was narrowed by the umask
        info = fstatSync(fd);
      }
      identity = { sha256: contentSha256, ino: info.ino, size: info.size, mtimeMs: info.mtimeMs };
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(tempPath);
      } catch {
        // already gone
      }
      throw err;
    }
    closeSync(fd);
    return { name, tempPath, identity };
  }

  /**
   * The one step Envoy sees: IN_MOVED_TO of the final name. Synchronous, so that a pass's renames
   * follow one another without a round trip through libuv's thread pool each (0.3-0.5 ms on a
   * loaded node); a rename in the same directory is a metadata change of microseconds.
   */
  commit(staged: StagedFile): void {
    renameSync(staged.tempPath, join(this.dir, staged.name));
    this.renames++;
    this.published.set(staged.name, staged.identity);
  }

  async discard(staged: StagedFile[]): Promise<void> {
    await Promise.all(staged.map((file) => unlink(file.tempPath).catch(() => undefined)));
  }

  /** Makes the renames durable (emptyDir on a node disk survives a node crash mid-update). */
  async syncDirectory(): Promise<void> {
    if (this.isMemoryBacked()) return; // a tmpfs keeps nothing across a node crash: nothing to make durable
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Removes temp files a killed predecessor (SIGKILL, OOM) left behind. */
  async removeStaleTempFiles(): Promise<string[]> {
    const stale = (await readdir(this.dir)).filter((name) => TEMP_NAME.test(name));
    await Promise.all(stale.map((name) => unlink(join(this.dir, name)).catch(() => undefined)));
    return stale;
  }
}
