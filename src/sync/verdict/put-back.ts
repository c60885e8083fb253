// What a refusal puts back on disk (conclude.ts carries it out). Envoy's subscription reports the
// version it runs (`<prefix>.version_text` moves only with an accepted update: measured on 1.40,
// test/envoy/verdict-runs-later.test.ts), so the answer a refusal was decided on says which
// content Envoy runs. When that is a publish renamed after the
// refused one, Envoy read the refused content and then the newer one, which it took: the newer
// one is on disk (or was, until a still newer publish), and putting the last accepted version back
// would replace what Envoy runs with an older version, and the ConfigMap's content with it
// (measured with a plain-directory source: two `mv` 0-20 ms apart, the refusal concluded before the
// newer publish was tracked, the accepted copy renamed over the newer file Envoy ran).
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { Replaces } from '../publish/syncer.js';
import type { PublishRecord } from './superseded-fate.js';
import type { OwnReload } from './unknown-fields.js';
import { REQUEST_TIMEOUT_MS } from './reason.js';

export type GoesBack =
  /** Envoy runs `runs`, a publish of the file renamed after the refused one: nothing goes back, and nothing is held. */
  | { kind: 'nothing'; runs: string }
  /** Envoy runs `version`, a publish a newer one replaced before its verdict (superseded.ts `ran`): that goes back. */
  | { kind: 'replaced'; version: string }
  /** The last version judged accepted goes back (if there is one). */
  | { kind: 'last' };

/**
 * What goes back on disk when Envoy refused `refused` (its version, sha256 and rename time, as the
 * tracker's `at`), given the version Envoy reports running (`running`; undefined: not reported),
 * the last version judged accepted (`previousVersion`), the file's publishes the tracker heard of
 * (`publishes`, any order) and whether `replaced(version)` is a remembered replaced publish. Pure.
 */
export function whatGoesBack(p: {
  running: string | undefined;
  previousVersion: string | undefined;
  refused: { version: string | undefined; sha256: string; at: number };
  publishes: readonly PublishRecord[];
  replaced: (version: string) => boolean;
}): GoesBack {
  const { running, previousVersion, refused } = p;
  if (running === undefined || running === '' || running === previousVersion || running === refused.version) return { kind: 'last' };
  if (p.publishes.some((r) => r.version === running && r.at > refused.at && r.sha256 !== refused.sha256)) return { kind: 'nothing', runs: running };
  return p.replaced(running) ? { kind: 'replaced', version: running } : { kind: 'last' };
}

/** Renames the last accepted copy of `file` back over the publish `replaces` (the syncer's restore); whether it did. Logs a failure. */
export async function putBack(restore: (name: string, content: Buffer, replaces: Replaces) => Promise<number | undefined>, logger: Logger, file: string, accepted: Buffer, replaces: Replaces): Promise<boolean> {
  const restored = await restore(file, accepted, replaces).catch((err: unknown) => {
    logger.error({ err, file }, `could not put the last accepted version of ${file} back`);
    return undefined;
  });
  return restored !== undefined;
}

/**
 * After a rollback's rename: what Envoy counted in `server.dynamic_unknown_fields` for reloading
 * the last accepted version (its answer to a request sent after the rename reflects the reload),
 * so that no verdict gives it as its own; undefined when nothing moved. `before`: the answer the
 * refusal was decided on.
 */
export async function ownReload(admin: EnvoyAdmin | undefined, before: EnvoyCounters | undefined): Promise<OwnReload | undefined> {
  if (before === undefined) return undefined;
  const after = await admin?.counters(REQUEST_TIMEOUT_MS).catch(() => undefined);
  if (after === undefined || after.epoch !== before.epoch || after.unknownFields <= before.unknownFields) return undefined;
  return { epoch: after.epoch, from: before.unknownFields, to: after.unknownFields };
}
