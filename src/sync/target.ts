// Writing into the directory Envoy watches. Envoy reloads a `path_config_source` file only on
// IN_MOVED_TO of its exact name, so every publish is: write a temp file in the same directory (a
// rename across filesystems is a copy, not a move), fsync it, rename it onto the final name.
// Temp names start with `..`, which a ConfigMap key can never do, so Envoy never watches one.
import { open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isReservedName } from './snapshot.js';

// Published files must be readable by Envoy, which runs as another user than the watcher.
const FILE_MODE = 0o644;
const TEMP_NAME = /^\.\..*\.tmp-\d+-\d+$/;

export interface StagedFile {
  name: string;
  tempPath: string;
}

export class TargetDirectory {
  private tempCounter = 0;

  constructor(readonly dir: string) {}

  /** Current content of a published file, or undefined when there is none. */
  async read(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Names of published files: everything except our `..` entries (temp files, ready file). */
  async publishedNames(): Promise<string[]> {
    return (await readdir(this.dir)).filter((name) => !isReservedName(name));
  }

  /** Writes content to a fresh temp file and fsyncs it; nothing is visible under `name` yet. */
  async stage(name: string, content: Buffer): Promise<StagedFile> {
    // Keep the temp name within NAME_MAX (255) even for a 253-character key.
    const tempPath = join(this.dir, `..${name.slice(0, 200)}.tmp-${process.pid}-${++this.tempCounter}`);
    const handle = await open(tempPath, 'wx', FILE_MODE);
    try {
      await handle.writeFile(content);
      await handle.chmod(FILE_MODE); // open()'s mode is filtered by the umask
      await handle.sync();
    } catch (err) {
      await handle.close();
      await unlink(tempPath).catch(() => undefined);
      throw err;
    }
    await handle.close();
    return { name, tempPath };
  }

  /** The one step Envoy sees: IN_MOVED_TO of the final name. */
  async commit(staged: StagedFile): Promise<void> {
    await rename(staged.tempPath, join(this.dir, staged.name));
  }

  async discard(staged: StagedFile[]): Promise<void> {
    await Promise.all(staged.map((file) => unlink(file.tempPath).catch(() => undefined)));
  }

  /** Makes the renames durable (emptyDir on a node disk survives a node crash mid-update). */
  async syncDirectory(): Promise<void> {
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
