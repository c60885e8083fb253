// What the verdict tracker (tracker.ts) is given by `watch` (watch/run-watch.ts).
import type { Logger } from 'pino';
import type { AdminAddress } from '../envoy/subscriptions.js';
import type { Replaces } from '../publish/syncer.js';
import type { Holds } from './holds.js';
import type { KeptVersions } from './kept.js';
import type { ValidateHint } from './validate-hint.js';

export interface VerdictOptions {
  sourceDir: string;
  targetDir: string;
  logger: Logger;
  /** What the syncer holds back; the tracker adds refusals and keeps the state file in step. */
  holds: Holds;
  /**
   * The versions kept under the state directory and its file operations (kept.ts, state-fs.ts):
   * one per target, created by the watcher (watch/run-watch.ts); default: one of the tracker's own.
   */
  kept?: KeptVersions;
  /** `--admin`: overrides the bootstrap's admin address. */
  admin?: AdminAddress;
  /** The `validate` a message suggests for a file of the ConfigMap (validate-hint.ts); default on `sourceDir`. */
  validateHint?: ValidateHint;
  /** The `validate` a refusal suggests: on the refused version kept (validate-hint.ts refusedValidateHint); default this program on `targetDir`. */
  refusedValidateHint?: ValidateHint;
  /** Base name of Envoy's bootstrap in the target (`--bootstrap`), if it is published there. */
  bootstrapName?: string;
  /** ms from publish after which an undecided verdict is `unknown` (default 10 s). */
  timeoutMs?: number;
  /**
   * For the files found at start: Envoy usually starts after the watcher (its image may still be
   * pulling) and starts LDS only once its clusters are warm, so their bound is `timeoutMs` after
   * Envoy counts its first `update_attempt` for the file's subscriptions, and at most this long
   * before that (default 5 min).
   */
  initialTimeoutMs?: number;
  /**
   * Renames `content` onto `name` (temp file + fsync + rename) unless `name` is no longer the
   * publish `replaces` (its inode and content sha256; the syncer's `restore`): a rollback, or a
   * refused file tried once more. Returns the new inode, or undefined when not written.
   */
  restore: (name: string, content: Buffer, replaces: Replaces) => Promise<number | undefined>;
  /** Asks for a sync pass soon: a hold was released (see `fromStore` in state.ts). */
  resync?: () => void;
}
