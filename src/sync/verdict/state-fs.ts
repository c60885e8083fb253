// The file operations of the verdict state directory (state.ts, kept.ts): in the call on a tmpfs,
// through libuv's thread pool on a node disk, decided once per target directory.
import { linkSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { link, mkdir, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { memoryBacked } from '../publish/target.js';

/** The file operations of the state directory; each rejects as node:fs does. */
export interface StateFs {
  mkdir(dir: string): Promise<void>;
  writeFile(path: string, data: string | Buffer): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  ino(path: string): Promise<number>;
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
  rename: (from, to) => rename(from, to),
  link: (existing, path) => link(existing, path),
  unlink: (path) => unlink(path),
  ino: async (path) => (await stat(path)).ino,
  list: (dir) => readdir(dir).catch(absentAsEmpty),
};

// On a tmpfs each step is a few microseconds in the kernel, and each round trip through libuv's
// thread pool costs this thread more than that (a keepCopy of 6 steps, for every file Envoy
// accepts, ran while Envoy was still loading the next change: bench:sync, the sidecar's CPU per change).
const IN_CALL_FS: StateFs = {
  mkdir: (dir) => inCall(() => { mkdirSync(dir, { recursive: true }); }),
  writeFile: (path, data) => inCall(() => { writeFileSync(path, data); }),
  rename: (from, to) => inCall(() => { renameSync(from, to); }),
  link: (existing, path) => inCall(() => { linkSync(existing, path); }),
  unlink: (path) => inCall(() => { unlinkSync(path); }),
  ino: (path) => inCall(() => statSync(path).ino),
  list: (dir) => inCall(() => readdirSync(dir)).catch(absentAsEmpty),
};

/** `step`'s result, or its throw as a rejection (the callers catch rejections, as from node:fs/promises). */
function inCall<T>(step: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(step()); // a throw here rejects
  });
}

// A target directory's filesystem does not change under a running process (an emptyDir is mounted
// once), so one statfs per directory: it was one per state write and per kept copy (1.9-2.0 us a
// statfsSync on a tmpfs, against 20-32 us for the mkdir, write and rename of a state write).
const decided = new Map<string, StateFs>();

/**
 * In the call on a tmpfs (the emptyDir the injector deploys), else through the thread pool (a node
 * disk may block). Decided once per directory; asked again while statfs cannot answer (thread pool meanwhile).
 */
export function stateFs(targetDir: string): StateFs {
  const known = decided.get(targetDir);
  if (known !== undefined) return known;
  const tmpfs = memoryBacked(targetDir);
  const fs = tmpfs === true ? IN_CALL_FS : THREAD_POOL_FS;
  if (tmpfs !== undefined) decided.set(targetDir, fs);
  return fs;
}
