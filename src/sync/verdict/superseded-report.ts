// The verdict line of a publish a newer publish replaced before its verdict (IO; superseded.ts
// decides it, superseded-fate.ts words it): a line like any verdict's, with its Event and `status`
// row, saying nothing is rolled back for it.
import { rejectionReason } from '../envoy/rejection-reason.js';
import type { RejectionReason } from '../envoy/rejection-reason.js';
import { subscriptionType } from '../envoy/stat-prefixes.js';
import { contentVersion } from '../envoy/version-stamp.js';
import type { Pending } from './pending.js';
import { REQUEST_TIMEOUT_MS } from './reason.js';
import { refusedBeforeNote } from './refusal-cause.js';
import { refusedKey } from './refused-versions.js';
import { refusalWords } from './messages.js';
import { refusedPath } from './state.js';
import { errorsBefore, supersededMessage } from './superseded-fate.js';
import type { SupersededFate } from './superseded-fate.js';
import type { VerdictContext } from './conclude-context.js';
import { reasonFieldsOf, tell, validateFieldsOf, verdictForms } from './verdict.js';

export interface SupersededContext extends VerdictContext {
  targetDir: string;
  /** The `validate` a message suggests for a file's refused version kept under `key` (validate-hint.ts, refused-versions.ts). */
  validateHint: (file: string, key?: string) => string;
}

/** Envoy's reason for refusing `old`, as far as its admin API still tells it after `next` was renamed. */
async function reason(ctx: SupersededContext, old: Pending, next: Pending, fate: Extract<SupersededFate, { kind: 'refused' }>): Promise<RejectionReason> {
  const type = subscriptionType(fate.counter.slice(0, fate.counter.lastIndexOf('.update_'))) ?? 'LDS';
  const admin = ctx.admin();
  const read = type === 'LDS' && fate.refusal === 'rejected' ? await admin?.listenerErrors(REQUEST_TIMEOUT_MS).catch(() => undefined) : undefined;
  const errors = errorsBefore(read, next.publishedAtMs);
  return rejectionReason({ type, kind: fate.refusal, path: ctx.pathOf(old.file), publishedAtMs: old.publishedAtMs, ...(errors === undefined ? {} : { errors }) });
}

/**
 * Writes the verdict line of `old`, replaced by `next` before its verdict, decided `fate`
 * (superseded-fate.ts): the log line, its Event (the listeners), the `status` row; a refused
 * content is kept with Envoy's reason, an accepted one kept as the last accepted until `next` is judged.
 */
export async function reportSuperseded(ctx: SupersededContext, old: Pending, next: Pending, fate: SupersededFate): Promise<void> {
  const { file } = old;
  const { logger, state, targetDir } = ctx;
  const shown = old.version ?? contentVersion(old.sha256);
  const why = fate.kind === 'refused' ? await reason(ctx, old, next, fate) : undefined;
  // Kept under a name of its own (the digest its version shows), which its line and `validate` name, as conclude.ts does.
  const key = fate.kind === 'refused' ? refusedKey(old.version, old.sha256) : undefined;
  const keptAt = fate.kind === 'refused' ? await ctx.kept.keepVersion('refused', file, { content: old.content, key }).then(() => (key === undefined ? refusedPath(targetDir, file) : ctx.kept.refusedVersionPath(file, key)), () => undefined) : undefined;
  const before = old.refusedBefore === undefined ? '' : refusedBeforeNote(old.refusedBefore);
  const message = supersededMessage({ file, version: shown, by: next.version ?? contentVersion(next.sha256), fate, because: refusalWords(why, ctx.validateHint(file, key)), keptAt, before });
  const outcome = fate.kind === 'refused' ? 'rejected' : fate.kind === 'accepted' ? 'accepted' : 'unknown';
  const entry = (state.files[file] ??= {});
  const previousVersion = entry.accepted?.version;
  const at = new Date().toISOString();
  // Envoy runs it until the newer publish is judged: a refusal of that one goes back to it (kept from its bytes).
  if (fate.kind === 'accepted' && (await ctx.kept.keepVersion('accepted', file, { content: old.content }).then(() => true, () => false))) {
    entry.accepted = { ...(old.version === undefined ? {} : { version: old.version }), sha256: old.sha256, at };
  }
  const counted = fate.kind === 'refused' || fate.kind === 'unattributed' ? { refusals: fate.count, counter: fate.counter } : fate.kind === 'accepted' ? { updates: fate.count, counter: fate.counter } : {};
  logger[outcome === 'rejected' ? 'error' : outcome === 'accepted' ? 'info' : 'warn'](
    { event: 'verdict', file, outcome, xdsVersion: old.version, previousXdsVersion: previousVersion, supersededBy: next.version, rolledBack: false, ...counted, ...(old.refusedBefore === undefined ? {} : { refusedBefore: old.refusedBefore.count }), ...(keptAt === undefined ? {} : { refused: keptAt }), ...reasonFieldsOf(why) },
    message,
  );
  const forms = verdictForms({ file, version: old.version, sha256: old.sha256, previousVersion, at }, { outcome, rolledBack: false, message, ...reasonFieldsOf(why), ...validateFieldsOf(why, ctx.validateHint(file, key)) });
  entry.verdict = { ...forms.kept, version: shown };
  tell(ctx.listeners, forms.verdict, (err) => { logger.error({ err }, 'verdict listener failed'); });
  ctx.stateFile.save();
}
