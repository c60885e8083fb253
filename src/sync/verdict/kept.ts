// The versions kept under the state directory (state.ts): `accepted/<file>`, what a rollback puts
// back, and `refused/<file>`, the last version Envoy refused, with each of the last few refused
// under a name of its own (`refused/..sha256-<key>/<file>`, refused-versions.ts), for the operator;
// so too the last few accepted versions Envoy ignored unknown fields in (`accepted/..sha256-<key>/
// <file>`), which their line's `validate` names.
// One step keeps either: a hard link to the published file while it is still that version (no
// copy), else the bytes published. One KeptVersions per target, created by the watcher
// (watch/run-watch.ts) and passed down: its temp names and its sweep are its own.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { versionOf, sha256 } from '../envoy/version-stamp.js';
import { keyOfDir, refusalsToDrop, refusedKey, type KeptRefusal } from './refused-versions.js';
import { refusedVersionDir } from './state-dir.js';
import { stateDir } from './state.js';
import { stateFsOf } from './state-fs.js';
import type { StateFs } from './state-fs.js';

export type KeptKind = 'accepted' | 'refused';

/** A published version to keep: its bytes, and the inode it was published as (undefined: not published now). */
export interface KeptVersion {
  ino?: number | undefined;
  content: Buffer;
  /**
   * The key it is kept under as well (refused-versions.ts refusedKey): a refused one always (derived
   * from `content` when absent), an accepted one only when given.
   */
  key?: string | undefined;
}

// Each write has a temp name of its own (pid, a tag of this object, counter), renamed onto
// `<kind>/<file>`: a refusal's copy (conclude.ts) and a replaced publish's (superseded.ts) of one
// file may be on their way at once, and with one shared name each replaced the other's temp (the
// rename moved a mix, or failed). Readers read `<kind>/<file>` by name only, so a temp is never read.
// The older form `.<file>.tmp-<pid>-<n>` (no tag) is swept too.
const TEMP = /^\..+\.tmp-\d+(?:-[0-9a-f]+)?-\d+$/;

/** The key a refused content is kept under, from its bytes: the digest in the version stamped on it, else the bytes' own. */
export function refusedKeyOf(name: string, content: Buffer): string | undefined {
  return refusedKey(versionOf(name, content), sha256(content));
}

export class KeptVersions {
  private temps = 0;
  /** Tells this object's temps from another's in this process (pid alone does not: a one-off keeper, keepVersion below). */
  private readonly tag = randomBytes(3).toString('hex');

  /** `fs`: the target's state file operations (state-fs.ts stateFsOf, one per target). */
  constructor(readonly targetDir: string, readonly fs: StateFs = stateFsOf(targetDir)) {}

  /**
   * Removes the temps a process that stopped mid-write left under accepted/ and refused/ (and its
   * `..sha256-` directories). Called once when the watcher starts (tracker.ts start), before it
   * keeps anything: a sweep later could take the temp of a write on its way. Never rejects.
   */
  async sweepTemps(): Promise<void> {
    const refused = join(stateDir(this.targetDir), 'refused');
    const accepted = join(stateDir(this.targetDir), 'accepted');
    const keyed = async (dir: string): Promise<string[]> => (await this.fs.list(dir).catch(() => [])).filter((name) => keyOfDir(name) !== undefined).map((name) => join(dir, name));
    for (const dir of [accepted, refused, ...(await keyed(accepted)), ...(await keyed(refused))]) {
      const names = await this.fs.list(dir).catch(() => []);
      for (const name of names.filter((n) => TEMP.test(n))) await this.fs.unlink(join(dir, name)).catch(() => undefined);
    }
  }

  /** `<state>/refused/..sha256-<key>/<name>`: where the refused content with this key is kept. */
  refusedVersionPath(name: string, key: string): string {
    return join(this.keyedDir('refused', key), name);
  }

  /**
   * Keeps the file now published as `name` as `<kind>/<name>`, by hard link (same filesystem; the
   * published file is never written in place, so the link keeps that version). Only if the
   * published file is still `expect` (its inode and its bytes); undefined: whatever is published.
   * The inode alone is not enough: ext4 gives the next file created the inode number just freed,
   * so a newer publish can carry the number of the one it replaced (restore-replaced.test.ts saw it
   * 5 runs of 5). Its bytes are compared with those the caller holds (exact, and no hash to compute).
   * Returns whether it was kept; rejects when the link cannot be made (no such file, another filesystem).
   */
  keepCopy(kind: KeptKind, name: string, expect: { ino: number; content: Buffer } | undefined): Promise<boolean> {
    return this.linkInto(join(stateDir(this.targetDir), kind), name, join(this.targetDir, name), expect);
  }

  /** Writes `content` as `<kind>/<name>` (the bytes published), by a temp of its own and a rename. */
  keepContent(kind: KeptKind, name: string, content: Buffer): Promise<void> {
    return this.writeInto(join(stateDir(this.targetDir), kind), name, content);
  }

  /**
   * Keeps a published version of `name` as `<kind>/<name>`, for an accepted and a refused one alike:
   * a hard link to the published file while it is still that version (inode `ino` and bytes
   * `content`), else its bytes written (a newer publish or the rollback replaced the file, it was
   * removed, or no link can be made). `ino` undefined: the file published now is another version,
   * the bytes are written. A refused one (an accepted one given a `key`) is kept first as
   * `<kind>/..sha256-<key>/<name>`, then linked from there as `<kind>/<name>` (both one inode, one
   * content even when two versions of the file are kept at once), and the file's keyed copies of
   * that kind beyond REFUSED_KEPT are let go. Resolves to how it was kept; rejects only when the
   * bytes cannot be written either.
   */
  async keepVersion(kind: KeptKind, name: string, version: KeptVersion): Promise<'linked' | 'written'> {
    const { ino, content } = version;
    const key = version.key ?? (kind === 'refused' ? refusedKeyOf(name, content) : undefined);
    const dir = key === undefined ? join(stateDir(this.targetDir), kind) : this.keyedDir(kind, key);
    const linked = ino !== undefined && (await this.linkInto(dir, name, join(this.targetDir, name), { ino, content }).catch(() => false));
    if (!linked) await this.writeInto(dir, name, content);
    if (key !== undefined) {
      const kindDir = join(stateDir(this.targetDir), kind);
      await this.linkInto(kindDir, name, join(dir, name), undefined);
      await this.dropOlder(kindDir, name, key).catch(() => undefined); // a copy too many is no fault
    }
    return linked ? 'linked' : 'written';
  }

  /** `<state>/<kind>/..sha256-<key>/<name>`: where a version kept under its key is (keepVersion). */
  keptVersionPath(kind: KeptKind, name: string, key: string): string {
    return join(this.keyedDir(kind, key), name);
  }

  /** Keeps a judged publish (its file, inode and bytes) under `kind`/ (keepVersion); whether it was kept. Logs a failure. */
  keepJudged(kind: KeptKind, judged: { file: string; ino: number; content: Buffer; key?: string | undefined }, logger: Logger): Promise<boolean> {
    return this.keepVersion(kind, judged.file, { ino: judged.ino, content: judged.content, key: judged.key }).then(
      () => true,
      (err: unknown) => {
        logger.warn({ err, file: judged.file }, `could not keep a copy of the ${kind} version`);
        return false;
      },
    );
  }

  private keyedDir(kind: KeptKind, key: string): string {
    return join(stateDir(this.targetDir), kind, refusedVersionDir(key));
  }

  /** `from` linked as `dir/name` (temp, rename), if it is still `expect` (undefined: whatever it is); whether it was. */
  private async linkInto(dir: string, name: string, from: string, expect: { ino: number; content: Buffer } | undefined): Promise<boolean> {
    await this.prepare(dir);
    const temp = this.tempPath(dir, name);
    try {
      await this.fs.link(from, temp);
      if (expect !== undefined && !(await this.holds(temp, expect))) return false;
      await this.fs.rename(temp, join(dir, name));
      return true;
    } finally {
      // Not kept, or kept: rename() between two links of one inode does nothing and leaves the temp.
      await this.fs.unlink(temp).catch(() => undefined);
    }
  }

  private async writeInto(dir: string, name: string, content: Buffer): Promise<void> {
    await this.prepare(dir);
    const temp = this.tempPath(dir, name);
    try {
      await this.fs.writeFile(temp, content);
      await this.fs.rename(temp, join(dir, name));
    } catch (err) {
      await this.fs.unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  /** Lets go of `name`'s keyed copies under `kindDir` beyond REFUSED_KEPT (refusalsToDrop), never `current`. */
  private async dropOlder(kindDir: string, name: string, current: string): Promise<void> {
    const kept: KeptRefusal[] = [];
    for (const entry of await this.fs.list(kindDir)) {
      const key = keyOfDir(entry);
      if (key === undefined) continue;
      const info = await this.fs.stat(join(kindDir, entry, name)).catch(() => undefined);
      if (info !== undefined) kept.push({ key, keptAtMs: info.ctimeMs });
    }
    for (const key of refusalsToDrop(kept, current)) {
      const dir = join(kindDir, refusedVersionDir(key));
      await this.fs.unlink(join(dir, name)).catch(() => undefined);
      await this.fs.rmdir(dir).catch(() => undefined); // another file's refusal of the same content keeps it
    }
  }

  /** Whether the file at `path` is still `expect`: its inode, then its bytes. */
  private async holds(path: string, expect: { ino: number; content: Buffer }): Promise<boolean> {
    if ((await this.fs.stat(path)).ino !== expect.ino) return false;
    return (await this.fs.readFile(path)).equals(expect.content);
  }

  private tempPath(dir: string, name: string): string {
    this.temps += 1;
    return join(dir, `.${name}.tmp-${String(process.pid)}-${this.tag}-${String(this.temps)}`);
  }

  private prepare(dir: string): Promise<void> {
    return this.fs.mkdir(dir);
  }
}
