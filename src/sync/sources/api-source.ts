// `envoy-xds-injector.io/source: api`: the ConfigMap from the Kubernetes API (list+watch, changes
// in milliseconds), with the kubelet's volume as the fallback while the API is unreachable or
// forbidden. The FallbackGuard keeps the switch from ever going back to an older version.
import type { Logger } from 'pino';
import type { Snapshot } from '../volume/snapshot.js';
import { readSnapshot } from '../volume/snapshot.js';
import { configMapSnapshot, contentDigest } from './configmap-snapshot.js';
import type { ApiProblem, ConfigMapEvent } from '../kube/configmap-watch.js';
import { ConfigMapWatch } from '../kube/configmap-watch.js';
import { FallbackGuard } from './fallback-guard.js';
import type { KubeConnection } from '../kube/connection.js';
import type { SnapshotSource } from './source.js';
import { rbacCommandLine } from '../kube/rbac-hint.js';

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
  backoff?: { initialMs: number; maxMs: number };
  now?: () => number;
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
  private fallbackAnnounced = false;

  constructor(private readonly options: ApiSourceOptions) {
    this.logger = options.logger;
    this.guard = new FallbackGuard(options.volumeLagMs ?? DEFAULT_VOLUME_LAG_MS, options.now);
    this.watch = new ConfigMapWatch({
      connection: options.connection,
      namespace: options.namespace,
      name: options.configMap,
      logger: options.logger,
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      onEvent: (event) => { this.onEvent(event); },
      onAvailability: (available, problem) => { this.onAvailability(available, problem); },
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
    const decision = this.guard.admitVolume(contentDigest(snapshot));
    if (decision.publish) {
      this.reportedHold = false;
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
    if (snapshot.api !== undefined && this.latest?.snapshot === snapshot) this.guard.apiPublished(this.latest.digest);
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
      else this.logger.info({ server: this.options.connection.server, credentials: this.options.connection.origin }, 'following the ConfigMap through the Kubernetes API');
      this.state = { kind: 'usable' };
      this.fallbackAnnounced = false;
      return;
    }
    if (problem === undefined) return;
    this.state = { kind: 'unusable', problem };
    if (!this.fallbackAnnounced) {
      this.fallbackAnnounced = true;
      this.logger.warn({ problem }, this.explain(problem));
    }
    this.volumeDirty = true;
    this.trigger();
  }

  /** One line naming what failed and what fixes it. */
  explain(problem: ApiProblem): string {
    const { namespace, configMap } = this.options;
    const fallback = 'following the ConfigMap volume instead (changes arrive at the kubelet\'s sync, up to about a minute); retrying the API with backoff';
    if (problem.kind === 'forbidden') {
      const sa = serviceAccountOf(problem.message) ?? this.options.serviceAccount ?? 'SERVICE_ACCOUNT';
      return `Kubernetes API forbids ${problem.verb} on configmaps "${configMap}" in namespace ${namespace} (${problem.message}): ${fallback}. Fix: ${rbacCommandLine(namespace, sa, configMap)}`;
    }
    if (problem.kind === 'unauthorized') {
      return `Kubernetes API refused the ServiceAccount token (401 on ${problem.verb} configmaps): ${fallback}`;
    }
    return `Kubernetes API unreachable (${problem.verb} configmaps "${configMap}": ${problem.message}): ${fallback}`;
  }
}

/** `User "system:serviceaccount:NS:SA" cannot ...` in an apiserver 403 message. */
function serviceAccountOf(message: string): string | undefined {
  return /system:serviceaccount:[^:"]+:([^"\s]+)/.exec(message)?.[1];
}
