// Where a scenario's source (ConfigMap volume) and target (emptyDir) directories live. The targets are
// judged on what the injector deploys: the ConfigMap volume (kubelet: tmpfs) and the memory-backed
// `envoy-xds-config` emptyDir, so both directories go on a tmpfs; the disk is a labelled extra.
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Placement = 'memory' | 'disk';

// statfs f_type values (linux/magic.h) of the filesystems this is likely to meet.
const FS_TYPES: Record<number, string> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlayfs',
  0x6a656a63: 'fakeowner',
};
const TMPFS_MAGIC = 0x01021994;

export function filesystemOf(path: string): string {
  const { type } = statfsSync(path);
  return FS_TYPES[type] ?? `0x${type.toString(16)}`;
}

// Big enough for a burst scenario's 500 versions in flight (kubelet deletes the old ones).
const TMPFS_BYTES_NEEDED = 256 * 1024 * 1024;

export interface Roots {
  memory: string;
  disk: string;
  /** Printed in the header: how the memory-backed root was found, or why there is none. */
  memoryNote: string;
  cleanUp: () => Promise<void>;
}

/**
 * A tmpfs for the deployed configuration: /dev/shm if it is one with room, else a tmpfs mounted for
 * the run (root only), else the disk with a note saying so.
 */
export async function findRoots(): Promise<Roots> {
  const disk = tmpdir();
  const none = (): Promise<void> => Promise.resolve();
  const shm = process.env.BENCH_TMPFS ?? '/dev/shm';
  try {
    const info = statfsSync(shm);
    if (info.type === TMPFS_MAGIC && info.bavail * info.bsize >= TMPFS_BYTES_NEEDED) {
      const probe = await mkdtemp(join(shm, 'envoy-xds-bench-probe-'));
      await rmdir(probe);
      return { memory: shm, disk, memoryNote: shm, cleanUp: none };
    }
  } catch {
    // not there or not writable: try mounting one
  }
  if (process.getuid?.() === 0) {
    const mountPoint = await mkdtemp(join(disk, 'envoy-xds-bench-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES_NEEDED},mode=0700`, 'envoy-xds-bench', mountPoint], { stdio: 'pipe' });
      return {
        memory: mountPoint,
        disk,
        memoryNote: `${mountPoint} (a tmpfs mounted for this run: ${shm} is not a writable tmpfs with room)`,
        cleanUp: async () => {
          execFileSync('umount', [mountPoint], { stdio: 'pipe' });
          await rmdir(mountPoint);
        },
      };
    } catch {
      await rmdir(mountPoint).catch(() => undefined);
    }
  }
  return {
    memory: disk,
    disk,
    memoryNote: `${disk} (NOTE: no tmpfs available, the "memory-backed" scenarios ran on the disk; figures are not the deployed configuration)`,
    cleanUp: none,
  };
}

