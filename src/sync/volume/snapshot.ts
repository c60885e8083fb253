// Reading one consistent version of a ConfigMap volume.
//
// kubelet's AtomicWriter writes every version into a fresh `..<UTC timestamp>.<random>` directory,
// then renames a `..data_tmp` symlink over `..data`, then deletes the previous directory. The files
// of one timestamped directory never change after the swap; they only disappear. So: resolve
// `..data` once, read every file through that directory (never through the per-key symlinks, which
// follow `..data` as it moves), and check `..data` still points there afterwards. If it moved, the
// old directory may have been half-deleted while we listed it: read the new one instead.
//
// The reads are synchronous: a ConfigMap volume is a tmpfs (at most 1 MiB, read in microseconds),
// and each asynchronous readFile is four round trips through libuv's thread pool (open, fstat,
// read, close): for three small files that was 0.8 ms of the 1.1 ms from kubelet's swap to the
// start of a pass (bench:sync, small), time every change waits before its first rename.
import { readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';

export const DATA_LINK = '..data';

export interface Snapshot {
  /**
   * The timestamped directory `..data` resolved to (`..2026_01_02_03_04_05.123456789`), or
   * undefined for a plain directory. Not Envoy's `version_info` (envoy/version-stamp.ts).
   */
  dataDir: string | undefined;
  /** Key name → content, for every regular file at the top of the snapshot. */
  files: Map<string, Buffer>;
  /** Entries that are not regular files (ConfigMap `items[].path` subdirectories): not published. */
  skipped: string[];
  /** Set when the snapshot came from the Kubernetes API (sources/api-source.ts), not a volume. */
  api?: { resourceVersion: string | undefined; uid: string | undefined };
  /**
   * Keys that are symlinks resolving outside the volume (name → link target): not published. Their
   * target is not part of what was mounted, and other containers (Envoy) may not see it at all.
   */
  outside: Map<string, string>;
}

export class SourceMissingError extends Error {
  override name = 'SourceMissingError';
  constructor(readonly sourceDir: string, cause: unknown) {
    super(`ConfigMap volume ${sourceDir} does not exist or is not a directory`, { cause });
  }
}

export class SnapshotUnstableError extends Error {
  override name = 'SnapshotUnstableError';
}

/** `..` names belong to the AtomicWriter (and to us in the target); they are never ConfigMap keys. */
export function isReservedName(name: string): boolean {
  return name.startsWith('..');
}

const MAX_ATTEMPTS = 50;

/** The snapshot `..data` points to (or the plain directory); rejects like readSnapshotSync throws. */
export function readSnapshot(sourceDir: string): Promise<Snapshot> {
  return new Promise((resolve) => {
    resolve(readSnapshotSync(sourceDir)); // a throw here rejects
  });
}

/** Throws SourceMissingError (no volume), SnapshotUnstableError (`..data` kept moving), or a read error. */
export function readSnapshotSync(sourceDir: string): Snapshot {
  for (let attempt = 1; ; attempt++) {
    const dataDir = readDataLink(sourceDir);
    try {
      const snapshot = readDirectory(dataDir === undefined ? sourceDir : join(sourceDir, dataDir), dataDir);
      // Only the timestamped directory `..data` points at is safe from deletion: if the link did not
      // move while we read, everything we read belongs to that one version.
      if (dataDir === undefined || readDataLink(sourceDir) === dataDir) return snapshot;
    } catch (err) {
      if (dataDir === undefined && isVanished(err) && (err as NodeJS.ErrnoException).path === sourceDir) {
        throw new SourceMissingError(sourceDir, err);
      }
      // ENOENT/ENOTDIR: the directory (or a file in it) vanished under us because a newer swap
      // happened and kubelet removed the old version. Anything else is a real error.
      if (dataDir === undefined || !isVanished(err)) throw err;
    }
    if (attempt >= MAX_ATTEMPTS) {
      throw new SnapshotUnstableError(`${sourceDir}: ${DATA_LINK} kept changing during ${MAX_ATTEMPTS} reads`);
    }
  }
}

function readDataLink(sourceDir: string): string | undefined {
  try {
    return readlinkSync(join(sourceDir, DATA_LINK));
  } catch (err) {
    if (isVanished(err)) return undefined; // a plain directory (local development, tests)
    // EINVAL: `..data` exists but is not a symlink; read it as a plain directory of files.
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') return DATA_LINK;
    throw err;
  }
}

/** Whether `path` (a symlink in `dir`) resolves outside `dir`; a dangling link is judged by its text. */
function pointsOutside(dir: string, path: string, link: string): boolean {
  const root = realpathSync(dir);
  let resolved: string;
  try {
    resolved = realpathSync(path);
  } catch {
    resolved = resolve(dir, link);
  }
  return resolved !== root && !resolved.startsWith(`${root}${sep}`);
}

function readDirectory(dir: string, dataDir: string | undefined): Snapshot {
  const files = new Map<string, Buffer>();
  const skipped: string[] = [];
  const outside = new Map<string, string>();
  const entries = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !isReservedName(entry.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    // kubelet's timestamped directories hold regular files, known from readdir alone. In a plain
    // directory keys may be symlinks: stat follows them.
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      let link: string | undefined;
      try {
        link = readlinkSync(path);
      } catch {
        link = undefined;
      }
      if (link !== undefined && pointsOutside(dir, path, link)) {
        outside.set(entry.name, link);
        continue;
      }
      let info;
      try {
        info = statSync(path);
      } catch (err) {
        if (dataDir === undefined && isVanished(err)) continue; // deleted meanwhile
        throw err;
      }
      isFile = info.isFile();
    }
    if (!isFile) {
      skipped.push(entry.name);
      continue;
    }
    files.set(entry.name, readFileSync(path));
  }
  return { dataDir, files, skipped, outside };
}

function isVanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
