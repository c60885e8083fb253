// What a reading of Envoy's counters tells besides the counters (IO: the log, the target directory):
// which files Envoy's own bootstrap reads, when the ConfigMap holds no bootstrap (the bootstrap
// stays in the image), and whether another Envoy process answered (envoy-restarted.ts). The
// tracker hands every reading here, before the poller attributes and judges it.
import type { Logger } from 'pino';
import type { EnvoyCounters } from '../envoy/stat-prefixes.js';
import type { PublishedFile } from '../publish/syncer.js';
import type { Conclusions } from './conclude.js';
import type { EnvoyProcesses } from './envoy-process.js';
import { envoyRestarted, filesToJudgeAgain } from './envoy-restarted.js';
import type { VerdictState } from './state.js';
import type { SubscriptionMap } from './subscription-map.js';

export interface AnswerContext {
  logger: Logger;
  targetDir: string;
  state: VerdictState;
  subscriptions: SubscriptionMap;
  conclusions: Conclusions;
  processes: EnvoyProcesses;
  /** Whether a verdict on `file` is pending. */
  pending: (file: string) => boolean;
  save: () => void;
  /** Judges `files` as found at start: Envoy loaded them before anything was read. */
  judgeAsFoundAtStart: (files: PublishedFile[]) => void;
}

/**
 * Files a bootstrap read from Envoy shows it reads that no verdict covers: not pending, and with no
 * verdict (or an `unknown` one) on the version on disk. Pure.
 */
export function unjudgedOnDisk(files: readonly PublishedFile[], state: VerdictState, pending: (file: string) => boolean): PublishedFile[] {
  return files.filter((file) => {
    if (pending(file.name)) return false;
    const verdict = state.files[file.name]?.verdict;
    return verdict === undefined || verdict.outcome === 'unknown' || verdict.version !== file.version;
  });
}

/** Learns what `reading` tells (Envoy's bootstrap, a restart) and starts judging the files it concerns. Never throws. */
export function observeReading(ctx: AnswerContext, reading: EnvoyCounters): void {
  // First the bootstrap: a restart's account of what the new Envoy loaded needs the files it reads.
  const bootstrap = reading.answeredBy?.bootstrap;
  if (bootstrap !== undefined) learnEnvoysBootstrap(ctx, bootstrap);
  const restart = ctx.processes.observe(reading);
  if (restart === undefined) return;
  const again = envoyRestarted({ logger: ctx.logger, state: ctx.state, files: ctx.subscriptions.facts(), conclusions: ctx.conclusions, pending: ctx.pending, save: ctx.save }, reading, restart);
  // Judged again as files found at start: the new Envoy loaded them before anything was read.
  if (again.length > 0) void filesToJudgeAgain(ctx.targetDir, again, ctx.pending, restart.startedAtMs).then(ctx.judgeAsFoundAtStart);
}

/**
 * The files Envoy's bootstrap reads, from Envoy (its config dump): said once per bootstrap seen; a
 * file that only now turns out to be read (its @type named no type Envoy reads, or the watcher
 * started before Envoy answered) and has no verdict is judged as found at start.
 */
function learnEnvoysBootstrap(ctx: AnswerContext, bootstrap: object): void {
  const first = !ctx.subscriptions.envoysBootstrapKnown();
  const newly = ctx.subscriptions.learnEnvoyBootstrap(bootstrap);
  if (newly === undefined) return;
  const subscriptions = ctx.subscriptions.list();
  if (first || newly.length > 0) {
    const files = subscriptions.map(({ file, type }) => `${file} (${type})`).join(', ');
    ctx.logger.info({ event: 'envoy-bootstrap', subscriptions }, `Envoy's bootstrap, read from its admin API, has its subscriptions read ${files === '' ? 'no file of the ConfigMap' : files}`);
  }
  if (newly.length === 0) return;
  void filesToJudgeAgain(ctx.targetDir, newly, ctx.pending).then((files) => {
    const unjudged = unjudgedOnDisk(files, ctx.state, ctx.pending);
    if (unjudged.length > 0) ctx.judgeAsFoundAtStart(unjudged);
  });
}
