// Renames a refused content that stays published again, the same bytes, once Envoy accepted a file
// its refusal may depend on (refused-kept.ts keptRefusedToRetry), and queues it for a verdict: Envoy
// reads a path_config_source file only on a rename, so a listener it refused for a cluster stays
// refused after the cluster came (trial on 1.40: a first lds.yaml routing to a cluster cds.yaml
// lacked; an lds.yaml a restarted Envoy refused at start). IO, thin: the rule is pure.
import type { Logger } from 'pino';
import type { EnvoyAdmin } from '../envoy/admin.js';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { PublishedFile } from '../publish/syncer.js';
import { configFilesNamed } from '../publish/target.js';
import { foundAsPublished } from './envoy-restarted.js';
import type { VerdictOptions } from './options.js';
import { dependencyTakenSince, keptRefusedToRetry, refusedKeptOnDisk } from './refused-kept.js';
import type { VerdictState } from './state.js';

export interface RetryContext {
  state: VerdictState;
  targetDir: string;
  logger: Logger;
  admin: () => EnvoyAdmin | undefined;
  /** ms for the counters request taken before the renames (the new verdicts' baseline). */
  timeoutMs: number;
  restore: VerdictOptions['restore'];
  /** A verdict on the file is pending. */
  pending: (file: string) => boolean;
  /** Queues `file`, renamed again, for a verdict against `baseline`. */
  track: (file: PublishedFile, baseline: EnvoyCounters | undefined) => void;
}

/** After Envoy accepted `accepted`: the refused contents that stay published and may load now, renamed again and judged. Never rejects. */
export function retryKeptRefused(ctx: RetryContext, accepted: string): Promise<string[]> {
  return renameAgain(ctx, keptRefusedToRetry(ctx.state.files, accepted, ctx.pending), accepted);
}

/**
 * After Envoy refused `file`, renamed at `sinceMs` (epoch ms; its mtime when found on disk), whose
 * content stays published: renamed again at once when Envoy accepted a file it depends on published
 * since (refused-kept.ts dependencyTakenSince). Never rejects.
 */
export function retryRefusedNow(ctx: RetryContext, file: string, sinceMs: number): Promise<string[]> {
  if (!refusedKeptOnDisk(ctx.state.files[file])) return Promise.resolve([]);
  const after = dependencyTakenSince(ctx.state.files, file, sinceMs, ctx.pending);
  return after === undefined ? Promise.resolve([]) : renameAgain(ctx, [file], after);
}

/** Renames `files` again, each only while its bytes on disk are still the refused content, and queues it for a verdict. */
async function renameAgain(ctx: RetryContext, files: readonly string[], accepted: string): Promise<string[]> {
  if (files.length === 0) return [];
  const found = await configFilesNamed(ctx.targetDir, files); // those files only, not the whole directory
  // What Envoy counted before the renames: the verdicts on them count from here.
  const baseline = await ctx.admin()?.counters(ctx.timeoutMs).catch(() => undefined);
  const retried: string[] = [];
  for (const file of found) {
    const published = foundAsPublished(file, 'xds');
    // Still the refused content (a pass may have replaced it meanwhile: that one is judged already).
    if (published.sha256 !== ctx.state.files[file.name]?.refused?.sha256 || ctx.pending(file.name)) continue;
    const ino = await ctx.restore(file.name, file.content, { ino: file.ino, sha256: published.sha256 }).catch((err: unknown) => {
      ctx.logger.error({ err, file: file.name }, `could not publish ${file.name} again`);
      return undefined;
    });
    if (ino === undefined) continue;
    retried.push(file.name);
    ctx.track({ ...published, ino, at: performance.now(), publishedAtMs: Date.now() }, baseline);
  }
  if (retried.length > 0) {
    ctx.logger.info({ files: retried, after: accepted }, `${retried.join(', ')}: Envoy accepted ${accepted}; publishing the refused version, which stays published, again for Envoy to judge`);
  }
  return retried;
}
