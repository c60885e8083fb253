// The file operations of the verdict state directory (state.ts, kept.ts): in the call on a tmpfs,
// through libuv's thread pool on a node disk, decided once per target directory by the object the
// watcher creates for it (stateFsOf) and passes down: no decision is kept at module level.
import { linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { link, mkdir, readFile, readdir, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { memoryBacked } from '../publish/target.js';

/** The file operations of the state directory; each rejects as node:fs does. */
export interface StateFs {
  mkdir(dir: string): Promise<void>;
  writeFile(path: string, data: string | Buffer): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Removes an empty directory (rejects ENOTEMPTY otherwise). */
  rmdir(dir: string): Promise<void>;
  /** Its inode number and its change time (ms: a link, a rename or a write of it sets it). */
  stat(path: string): Promise<{ ino: number; ctimeMs: number }>;
  /** The names in `dir` ([] when it does not exist). */
  list(dir: string): Promise<string[]>;
}

const absentAsEmpty = (err: unknown): string[] => {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
  throw err;
};

const THREAD_POOL_FS: StateFs = {
  mkdir: async (dir) => { await mkdir(dir, { recursive: true }); },
  writeFile: (path, data) => writeFile(path, data),
  readFile: (path) => readFile(path),
  rename: (from, to) => rename(from, to),
  link: (existing, path) => link(existing, path),
  unlink: (path) => unlink(path),
  rmdir: (dir) => rmdir(dir),
  stat: async (path) => { const info = await stat(path); return { ino: info.ino, ctimeMs: info.ctimeMs }; },
  list: (dir) => readdir(dir).catch(absentAsEmpty),
};

// On a tmpfs each step is a few microseconds in the kernel, and each round trip through libuv's
// thread pool costs this thread more than that (a keepCopy of 6 steps, for every file Envoy
// accepts, ran while Envoy was still loading the next change: bench:sync, the sidecar's CPU per change).
const IN_CALL_FS: StateFs = {
  mkdir: (dir) => inCall(() => { mkdirSync(dir, { recursive: true }); }),
  writeFile: (path, data) => inCall(() => { writeFileSync(path, data); }),
  readFile: (path) => inCall(() => readFileSync(path)),
  rename: (from, to) => inCall(() => { renameSync(from, to); }),
  link: (existing, path) => inCall(() => { linkSync(existing, path); }),
  unlink: (path) => inCall(() => { unlinkSync(path); }),
  rmdir: (dir) => inCall(() => { rmdirSync(dir); }),
  stat: (path) => inCall(() => { const info = statSync(path); return { ino: info.ino, ctimeMs: info.ctimeMs }; }),
  list: (dir) => inCall(() => readdirSync(dir)).catch(absentAsEmpty),
};

/** `step`'s result, or its throw as a rejection (the callers catch rejections, as from node:fs/promises). */
function inCall<T>(step: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(step()); // a throw here rejects
  });
}

/** A target directory with its state file operations (a KeptVersions is one): what writes there is given. */
export interface StateTarget {
  readonly targetDir: string;
  readonly fs: StateFs;
}

/** The state directory's file operations for the target directory: tmpfs or not (one statfs). */
export interface TargetStateFs extends StateFs {
  /** 'memory' (in the call), 'disk' (thread pool), or undefined while statfs could not answer. */
  readonly decided: 'memory' | 'disk' | undefined;
}

/**
 * The file operations for `targetDir`'s state directory: in the call on a tmpfs (the emptyDir the
 * injector deploys), else through the thread pool (a node disk may block). A target directory's
 * filesystem does not change under a running process (an emptyDir is mounted once), so the object
 * asks statfs once, at its first operation: it was one statfs per state write and per kept copy
 * (1.9-2.0 us a statfsSync on a tmpfs, against 20-32 us for the mkdir, write and rename of a state
 * write). While statfs cannot answer (the directory is not there yet), the thread pool, asked again
 * next time. One object per target: the watcher creates it (watch/run-watch.ts) and passes it down.
 */
export function stateFsOf(targetDir: string): TargetStateFs {
  let decided: StateFs | undefined;
  const fs = (): StateFs => {
    if (decided !== undefined) return decided;
    const tmpfs = memoryBacked(targetDir);
    const chosen = tmpfs === true ? IN_CALL_FS : THREAD_POOL_FS;
    if (tmpfs !== undefined) decided = chosen;
    return chosen;
  };
  return {
    get decided() { return decided === undefined ? undefined : decided === IN_CALL_FS ? 'memory' : 'disk'; },
    mkdir: (dir) => fs().mkdir(dir),
    writeFile: (path, data) => fs().writeFile(path, data),
    readFile: (path) => fs().readFile(path),
    rename: (from, to) => fs().rename(from, to),
    link: (existing, path) => fs().link(existing, path),
    unlink: (path) => fs().unlink(path),
    rmdir: (dir) => fs().rmdir(dir),
    stat: (path) => fs().stat(path),
    list: (dir) => fs().list(dir),
  };
}
