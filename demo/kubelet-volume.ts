// A ConfigMap volume written the way the kubelet writes one (pkg/volume/util/atomic_writer.go,
// AtomicWriter.Write): every version goes into a new directory `..<UTC timestamp>.<random>`, a
// `..data_tmp` symlink to it is renamed over `..data` (the one atomic step), then `key -> ..data/key`
// symlinks are added for new keys, the symlinks of removed keys deleted, and the old directory
// removed. `copy` and `watch` read this layout in a Pod; the demo writes it on a plain directory.
import { chmod, mkdtemp, readFile, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

export class KubeletVolume {
  /** `dir`: an existing, empty directory (the volume's mount point). */
  constructor(readonly dir: string) {}

  /**
   * Publishes `payload` (ConfigMap key → content) as the volume's new version.
   * Returns the new timestamped directory's name, or undefined when nothing changed (the kubelet
   * skips a payload equal to what `..data` holds).
   */
  async write(payload: ReadonlyMap<string, Buffer>): Promise<string | undefined> {
    const dataLink = join(this.dir, '..data');
    const oldDir = await readlink(dataLink).catch(() => undefined);
    const oldKeys = oldDir === undefined ? [] : await readdir(join(this.dir, oldDir));
    if (oldDir !== undefined && (await this.unchanged(oldDir, oldKeys, payload))) return undefined;

    // The kubelet: os.MkdirTemp(targetDir, time.Now().UTC().Format("..2006_01_02_15_04_05.")), mode 0755.
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-T:]/g, '_');
    const newDir = basename(await mkdtemp(join(this.dir, `..${stamp}.`)));
    await chmod(join(this.dir, newDir), 0o755);
    for (const [key, content] of payload) {
      await writeFile(join(this.dir, newDir, key), content, { mode: 0o644 });
    }
    await rm(join(this.dir, '..data_tmp'), { force: true });
    await symlink(newDir, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), dataLink);
    for (const key of payload.keys()) {
      const linked = await readlink(join(this.dir, key)).then(() => true, () => false);
      if (!linked) await symlink(join('..data', key), join(this.dir, key));
    }
    for (const key of oldKeys) if (!payload.has(key)) await rm(join(this.dir, key), { force: true });
    if (oldDir !== undefined) await rm(join(this.dir, oldDir), { recursive: true, force: true });
    return newDir;
  }

  private async unchanged(oldDir: string, oldKeys: string[], payload: ReadonlyMap<string, Buffer>): Promise<boolean> {
    if (oldKeys.length !== payload.size) return false;
    for (const [key, content] of payload) {
      const old = await readFile(join(this.dir, oldDir, key)).catch(() => undefined);
      if (!old?.equals(content)) return false;
    }
    return true;
  }
}
