// `envoy-xds-injector.io/source: api`: the ConfigMap from the Kubernetes API (list+watch, changes
// in milliseconds), with the kubelet's volume as the fallback while the API is unreachable or
// forbidden. The FallbackGuard keeps the switch from ever going back to an older version.
import type { Logger } from 'pino';
import type { Snapshot } from '../volume/snapshot.js';
import { readSnapshot } from '../volume/snapshot.js';
import { configMapSnapshot, contentDigest } from './configmap-snapshot.js';
import type { ConfigMapEvent } from '../kube/configmap-object.js';
import { CauseLog, explainProblem, type ApiProblem } from '../kube/api-problem.js';
import type { BackoffPolicy } from '../kube/retry-backoff.js';
import { ConfigMapWatch, type CheckCompanion } from '../kube/configmap-watch.js';
import { FallbackGuard } from './fallback-guard.js';
import type { KubeConnection } from '../kube/connection.js';
import type { SnapshotSource } from './source.js';

export interface ApiSourceOptions {
  connection: KubeConnection;
  namespace: string;
  configMap: string;
  /** The ConfigMap volume (fallback). */
  volumeDir: string;
  logger: Logger;
  /** The kubelet's bound for refreshing the volume (FallbackGuard); default 90 s. */
  volumeLagMs?: number;
  /** For the "how to fix" hint: the Pod's ServiceAccount, when known. */
  serviceAccount?: string;
  /** For the "how to fix" hint: how an operator runs the CLI (rbac-hint.ts: cliThroughPod), when known. */
  cli?: string;
  backoff?: Partial<BackoffPolicy>;
  /** How often the watch is checked, and how long a check may go unanswered (ms; configmap-watch.ts). */
  checkMs?: number;
  checkTimeoutMs?: number;
  /** A read that rides on the check's connection when due (the last-accepted store's: LastAcceptedWriter.storeCheck.carry()). */
  checkCompanion?: CheckCompanion;
  /** Milliseconds on a monotonic clock (default performance.now): --volume-lag is a duration. */
  now?: () => number;
  /** Called each time the API becomes usable (first list, or after an outage: a Role applied, the apiserver back): Event writes paused by a 403 try again. */
  onUsableAgain?: () => void;
}

export const DEFAULT_VOLUME_LAG_MS = 90_000;

type ApiState = { kind: 'connecting' } | { kind: 'usable' } | { kind: 'unusable'; problem: ApiProblem };

export class ApiSource implements SnapshotSource {
  readonly kind = 'api';
  private readonly watch: ConfigMapWatch;
  private readonly guard: FallbackGuard;
  private readonly logger: Logger;
  private state: ApiState = { kind: 'connecting' };
  private latest: { snapshot: Snapshot; digest: string } | undefined;
  private absent = false;
  private volumeDirty = true;
  private trigger: () => void = () => undefined;
  private holdTimer: NodeJS.Timeout | undefined;
  private reportedHold = false;
  private reportedAbsent = false;
  /** Causes said during the current outage: each once. */
  private readonly causes = new CauseLog();
  /** Refusals of the open watch's check said since its last answer with the ConfigMap: each once. */
  private readonly checkCauses = new CauseLog();
  private checkRefused = false;
  /** The digest of the API version last published. */
  private apiDigest: string | undefined;
  /**
   * Since the API was last confirmed current (a list), the volume published content other than the
   * API's last version: a watch resumed from the old resourceVersion could replay edits older than
   * it, so the API resumes with a list (configmap-watch.ts: resumable).
   */
  private volumeAhead = false;

  constructor(private readonly options: ApiSourceOptions) {
    this.logger = options.logger;
    const now = options.now ?? (() => performance.now());
    this.guard = new FallbackGuard(options.volumeLagMs ?? DEFAULT_VOLUME_LAG_MS, now);
    this.watch = new ConfigMapWatch({
      connection: options.connection,
      namespace: options.namespace,
      name: options.configMap,
      logger: options.logger,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.checkMs === undefined ? {} : { checkMs: options.checkMs }),
      ...(options.checkTimeoutMs === undefined ? {} : { checkTimeoutMs: options.checkTimeoutMs }),
      ...(options.checkCompanion === undefined ? {} : { companion: options.checkCompanion }),
      now,
      onEvent: (event) => { this.onEvent(event); },
      onAvailability: (available, problem) => { this.onAvailability(available, problem); },
      onConfirmed: (at) => {
        this.guard.apiConfirmed(at);
        this.volumeAhead = false;
      },
      resumable: () => !this.volumeAhead,
      onCheck: (refused) => { this.onCheck(refused); },
    });
  }

  /** The watch's counters (lists, watches, 410s, failures). */
  get stats(): ConfigMapWatch['stats'] {
    return this.watch.stats;
  }

  start(trigger: () => void): void {
    this.trigger = trigger;
    this.watch.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.holdTimer);
    await this.watch.stop();
    this.options.connection.close();
  }

  volumeChanged(): void {
    this.volumeDirty = true;
  }

  async read(): Promise<Snapshot | undefined> {
    if (this.state.kind === 'usable') {
      if (this.volumeDirty) await this.noteVolume();
      if (this.absent) return undefined;
      return this.latest?.snapshot;
    }
    // Connecting (startup: the copy container published the volume, so nothing moves back) or
    // unusable: the volume, unless it may be behind what the API already gave us.
    const snapshot = await readSnapshot(this.options.volumeDir);
    this.volumeDirty = false;
    const digest = contentDigest(snapshot);
    const decision = this.guard.admitVolume(digest);
    if (decision.publish) {
      this.reportedHold = false;
      if (this.apiDigest !== undefined && digest !== this.apiDigest) this.volumeAhead = true;
      return snapshot;
    }
    if (!this.reportedHold) {
      this.reportedHold = true;
      this.logger.info(
        { why: decision.why, waitMs: Math.round(decision.waitMs) },
        'the ConfigMap volume may be behind the version already published from the API: keeping that version until the volume catches up',
      );
    }
    if (decision.waitMs > 0) {
      clearTimeout(this.holdTimer);
      this.holdTimer = setTimeout(() => { this.trigger(); }, decision.waitMs + 10).unref();
    }
    return undefined;
  }

  passed(snapshot: Snapshot): void {
    if (snapshot.api !== undefined && this.latest?.snapshot === snapshot) {
      this.guard.apiPublished(this.latest.digest);
      this.apiDigest = this.latest.digest;
    }
  }

  private async noteVolume(): Promise<void> {
    this.volumeDirty = false;
    try {
      this.guard.volumeSeen(contentDigest(await readSnapshot(this.options.volumeDir)));
    } catch (err) {
      this.logger.debug({ err }, 'cannot read the ConfigMap volume while following the API');
    }
  }

  private onEvent(event: ConfigMapEvent): void {
    if (event.type === 'absent') {
      this.absent = true;
      if (!this.reportedAbsent) {
        this.reportedAbsent = true;
        this.logger.warn(
          { namespace: this.options.namespace, configMap: this.options.configMap, resourceVersion: event.resourceVersion },
          `ConfigMap ${this.options.namespace}/${this.options.configMap} does not exist (deleted?): keeping the files last published; a ConfigMap created again under this name is published`,
        );
      }
      return;
    }
    if (this.absent) {
      this.logger.info({ resourceVersion: event.configMap.metadata.resourceVersion, uid: event.configMap.metadata.uid }, 'ConfigMap exists again: publishing it');
    }
    this.absent = false;
    this.reportedAbsent = false;
    const snapshot = configMapSnapshot(event.configMap);
    this.latest = { snapshot, digest: contentDigest(snapshot) };
    this.trigger();
  }

  private onAvailability(available: boolean, problem?: ApiProblem): void {
    if (available) {
      if (this.state.kind === 'unusable') this.logger.info({ server: this.options.connection.server }, 'Kubernetes API usable again: following the ConfigMap through the API');
      else this.logger.info({ server: this.options.connection.server, credentials: this.options.connection.origin, transport: this.options.connection.pings?.() === true ? 'HTTP/2' : 'HTTP/1.1' }, 'following the ConfigMap through the Kubernetes API');
      this.state = { kind: 'usable' };
      this.causes.recovered();
      this.checkCauses.recovered();
      this.checkRefused = false;
      this.options.onUsableAgain?.();
      return;
    }
    if (problem === undefined) return;
    const wasUsable = this.state.kind !== 'unusable';
    this.state = { kind: 'unusable', problem };
    // Each cause of an outage once (a reset, then a 403, then 429s...), the one that persists included.
    if (this.causes.first(problem)) this.logger.warn({ problem }, this.explain(problem));
    if (!wasUsable) return;
    this.volumeDirty = true;
    this.trigger();
  }

  /**
   * The open watch's check answered: a refusal (a token or a Role gone bad since the watch started,
   * throttling) is the cause the next list will meet, so it is said now, once per cause, with its
   * fix; the watch goes on. An answer with the ConfigMap ends that.
   */
  private onCheck(refused: ApiProblem | undefined): void {
    if (refused === undefined) {
      if (this.checkRefused) this.logger.info({ server: this.options.connection.server }, 'Kubernetes API answers the watch\'s check again');
      this.checkRefused = false;
      this.checkCauses.recovered();
      return;
    }
    // A check that was in flight when the watch ended: the outage's line says it.
    if (this.state.kind !== 'usable') return;
    this.checkRefused = true;
    if (this.checkCauses.first(refused)) this.logger.warn({ problem: refused }, this.explain(refused, true));
  }

  /** One line naming what failed and what fixes it (api-problem.ts); `watchOpen`: a refused check of a watch that goes on. */
  explain(problem: ApiProblem, watchOpen = false): string {
    const { namespace, configMap, serviceAccount, connection, cli } = this.options;
    return explainProblem(problem, { namespace, configMap, serviceAccount, credentials: connection.origin, cli }, watchOpen);
  }
}
