// `watch`: the sidecar. Republishes every ConfigMap change into the emptyDir by atomic rename so
// Envoy's path_config_source reloads it. See docs/sync.md.
import { resolve } from 'node:path';
import { errorFields, explainSyncError } from '../sync/publish/explain-error.js';
import { parseAdminAddress } from '../sync/envoy/subscriptions.js';
import { runWatch } from '../sync/watch/run-watch.js';
import type { SnapshotSource } from '../sync/sources/source.js';
import type { LastAcceptedWriter } from '../sync/last-accepted/writer.js';
import type { VerdictListener } from '../sync/verdict/verdict.js';
import type { EventRecorder } from '../sync/watch/reporters.js';
import type { CliContext, Command } from './context.js';
import { durationFlag, parseFlags, UsageError } from './context.js';
import { cliThroughPod, rbacCommandLine } from '../sync/kube/rbac-hint.js';
import { configMapValidateHint, refusedValidateHint, sourceValidateHint, type ValidateHint } from '../sync/verdict/validate-hint.js';

const USAGE = `Usage: envoy-xds-injector watch --from DIR --to DIR [--resync 60s] [--ready-file PATH] [--bootstrap NAME]
       [--admin HOST:PORT|PATH] [--verdict-timeout 10s]
       [--source volume|api --configmap NAME [--namespace NS] [--pod NAME] [--kubeconfig FILE] [--volume-lag 90s]
        [--api-protocol HTTP/2|HTTP/1.1] [--api-check 30s] [--api-timeout 10s] [--api-retry-max 30s]
        [--store-check 30s]]

Watch a mounted ConfigMap and republish changed files into --to by temp file + fsync + rename, so
Envoy (which reloads a path_config_source file only on a rename onto its name) picks them up.
Invalid YAML/JSON is never published; the last good version stays. After each publish, Envoy's
admin API tells whether Envoy accepted the file's version; a refused file is replaced by the last
accepted version (kept under --to/..envoy-xds-verdict/, see 'status'). Exits 0 on SIGTERM.

  --from DIR          the ConfigMap volume mount
  --to DIR            the writable directory Envoy reads (emptyDir)
  --resync DURATION   full resync interval, a safety net for lost events (default 60s)
  --ready-file PATH   created once the first sync is done and the watch is established
  --bootstrap NAME    the file Envoy is started with (-c): changes to it log a restart warning;
                      its admin address and xDS file sources are used for Envoy's verdict
  --admin ADDRESS     Envoy's admin API (HOST:PORT or a unix socket path), instead of the bootstrap's
  --verdict-timeout DURATION
                      how long after a publish Envoy's verdict may take before it is 'unknown' (default 10s)

  --source api        follow the ConfigMap through the Kubernetes API (list+watch: changes in
                      milliseconds) instead of waiting for the kubelet to update the volume; the
                      volume stays the fallback while the API is unreachable or forbidden; Envoy's
                      verdicts are kept in ConfigMap NAME-envoy-xds-accepted, where a new Pod's
                      copy finds the last accepted version (docs/api-source.md)
  --configmap NAME    the ConfigMap (api; env ENVOY_XDS_CONFIGMAP)
  --namespace NS      its namespace (api; env POD_NAMESPACE, else the --kubeconfig context's, else
                      the ServiceAccount mount's)
  --pod NAME          the Pod Events are recorded for (env POD_NAME; POD_UID, NODE_NAME too)
  --kubeconfig FILE   credentials from a kubeconfig instead of the Pod's ServiceAccount token
                      (env ENVOY_XDS_KUBECONFIG)
  --volume-lag D      how far the kubelet's volume may lag the API (default 90s): after a switch
                      to the volume, an unknown volume version is published only this long after
                      the last API version (docs/api-source.md)
  --api-protocol P    HTTP/2 (default) or HTTP/1.1, to an https apiserver (one that does not speak
                      HTTP/2 gets HTTP/1.1 either way). HTTP/2: a silent connection is noticed
                      within --api-check + --api-timeout (its PINGs), for one HTTP/2 connection
                      on the apiserver per Pod. HTTP/1.1: while the apiserver's BOOKMARKs come
                      (about one a minute, once some ConfigMap of the cluster changed since the
                      watch began) nothing but the watch, and silence is noticed within a minute
                      + --api-timeout; until they come, the check below (docs/api-source.md)
  --api-check D       how soon a silent connection to the apiserver is noticed (default 30s): over
                      HTTP/2 a PING goes out after this long without a frame; over HTTP/1.1 the
                      watch is checked this often while no BOOKMARK comes (a missed change is
                      listed again)
  --api-timeout D     how long a request or a PING to the apiserver may go unanswered (default 10s)
  --api-retry-max D   the longest wait between attempts while the API fails (default 30s; the
                      first is 0.5s, waits while it is down are at most an eighth of the outage,
                      and a recovery of 10s starts over)
  --store-check D     while this Pod's Envoy holds a refusal, how often NAME-envoy-xds-accepted is
                      read to put back what Envoy accepted, if the store lost it (each write puts
                      it back too) (default 30s; x 1-1.5): over HTTP/2 on the
                      watch's connection; over HTTP/1.1 on the --api-check's, on every check when
                      --api-check is at least 3/4 of it, else every ceil(store-check / api-check)-th;
                      never later than 1.5 x it
`;

const MIN_RESYNC_MS = 100;

/** --api-protocol's default: what the watcher speaks to an https apiserver that offers both. */
export const DEFAULT_API_PROTOCOL = 'HTTP/2';

/** --api-protocol: true for HTTP/2, false for HTTP/1.1 (case and the `HTTP/` prefix optional: h2, http2, 1.1). */
export function apiProtocolFlag(text: string): boolean {
  const t = text.trim().toLowerCase().replace(/^http\/?/, '');
  if (t === '2' || t === 'h2') return true;
  if (t === '1.1') return false;
  throw new UsageError(`--api-protocol: expected HTTP/2 or HTTP/1.1, got '${text}'`);
}

export const watch: Command = async (args, ctx) => {
  const values = parseFlags(args, {
    from: { type: 'string' },
    to: { type: 'string' },
    resync: { type: 'string', default: '60s' },
    'ready-file': { type: 'string' },
    bootstrap: { type: 'string' },
    source: { type: 'string', default: 'volume' },
    configmap: { type: 'string' },
    namespace: { type: 'string' },
    pod: { type: 'string' },
    kubeconfig: { type: 'string' },
    'volume-lag': { type: 'string', default: '90s' },
    'api-protocol': { type: 'string', default: DEFAULT_API_PROTOCOL },
    'api-check': { type: 'string', default: '30s' },
    'api-timeout': { type: 'string', default: '10s' },
    'api-retry-max': { type: 'string', default: '30s' },
    'store-check': { type: 'string', default: '30s' },
    admin: { type: 'string' },
    'verdict-timeout': { type: 'string', default: '10s' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    ctx.stdout.write(USAGE);
    return 0;
  }
  if (values.from === undefined || values.to === undefined) throw new UsageError(`--from and --to are required`);
  // Absolute from here on: the state file keeps them, and `status --to` may run from another directory.
  const sourceDir = resolve(values.from);
  const targetDir = resolve(values.to);
  const resyncMs = durationFlag('resync', values.resync, MIN_RESYNC_MS);
  if (values.source !== 'volume' && values.source !== 'api') throw new UsageError(`--source: expected volume or api, got '${values.source}'`);
  // Commands the watcher's messages suggest are read by an operator (log, Event, status): through
  // this Pod's watcher container when the Pod is known, else this program as it was started.
  const podName = values.pod ?? ctx.env.POD_NAME;
  const podNamespace = values.namespace ?? ctx.env.POD_NAMESPACE;
  const cli = podName !== undefined && podName !== '' && podNamespace !== undefined && podNamespace !== ''
    ? cliThroughPod(podNamespace, podName)
    : ctx.env.KUBERNETES_SERVICE_HOST === undefined ? (ctx.self ?? 'envoy-xds-injector') : cliThroughPod(undefined, 'POD');
  const api = values.source === 'api'
    ? await apiSource(ctx, {
        volumeDir: sourceDir,
        targetDir,
        configMap: values.configmap ?? ctx.env.ENVOY_XDS_CONFIGMAP,
        namespace: values.namespace ?? ctx.env.POD_NAMESPACE,
        pod: values.pod ?? ctx.env.POD_NAME,
        kubeconfig: values.kubeconfig ?? ctx.env.ENVOY_XDS_KUBECONFIG,
        volumeLagMs: durationFlag('volume-lag', values['volume-lag']),
        http2: apiProtocolFlag(values['api-protocol']),
        checkMs: durationFlag('api-check', values['api-check'], 100),
        timeoutMs: durationFlag('api-timeout', values['api-timeout'], 100),
        retryMaxMs: durationFlag('api-retry-max', values['api-retry-max'], 500),
        storeCheckMs: durationFlag('store-check', values['store-check'], 100),
      })
    : undefined;
  const verdictTimeoutMs = durationFlag('verdict-timeout', values['verdict-timeout'], 100);
  let admin;
  try {
    admin = values.admin === undefined ? undefined : parseAdminAddress(values.admin);
  } catch (err) {
    throw new UsageError(`--admin: ${(err as Error).message}`);
  }

  try {
    return await runWatch({
      ...(api === undefined ? {} : { source: api.source, onPass: api.onPass, onVerdict: api.onVerdict }),
      sourceDir,
      targetDir,
      logger: ctx.logger,
      resyncMs,
      verdictTimeoutMs,
      validateHint: api?.validateHint ?? sourceValidateHint(cli, sourceDir),
      refusedValidateHint: refusedValidateHint(cli, targetDir),
      ...(admin === undefined ? {} : { admin }),
      signal: ctx.shutdownSignal,
      ...(values['ready-file'] === undefined ? {} : { readyFile: values['ready-file'] }),
      ...(values.bootstrap === undefined ? {} : { bootstrapName: values.bootstrap }),
    });
  } catch (err) {
    const explained = explainSyncError(err, { sourceDir, targetDir });
    ctx.logger.error({ ...errorFields(err, explained), source: sourceDir, target: targetDir }, explained.message);
    return 1;
  } finally {
    await Promise.all([api?.recorder?.close(), api?.lastAccepted?.close()]);
  }
};

interface ApiFlags {
  volumeDir: string;
  targetDir: string;
  configMap: string | undefined;
  namespace: string | undefined;
  pod: string | undefined;
  kubeconfig: string | undefined;
  volumeLagMs: number;
  /** --api-protocol: HTTP/2 (true) or HTTP/1.1. */
  http2: boolean;
  checkMs: number;
  timeoutMs: number;
  retryMaxMs: number;
  storeCheckMs: number;
}

/** The API source and the Event recorder; loaded only with --source api (volume Pods never load them). */
async function apiSource(ctx: CliContext, flags: ApiFlags): Promise<{
  source: SnapshotSource;
  recorder: EventRecorder | undefined;
  lastAccepted?: LastAcceptedWriter;
  onPass: NonNullable<Parameters<typeof runWatch>[0]['onPass']>;
  onVerdict: VerdictListener;
  /** The ConfigMap from the API piped into validate: the volume may lag what was judged. */
  validateHint?: ValidateHint;
}> {
  const { ApiSource } = await import('../sync/sources/api-source.js');
  const { SERVICE_ACCOUNT_DIR, inClusterConnection } = await import('../sync/kube/connection.js');
  const { kubeconfigConnection, kubeconfigNamespace } = await import('../sync/kube/kubeconfig.js');
  const { EventRecorder, Reporters } = await import('../sync/watch/reporters.js');
  const { LastAcceptedWriter } = await import('../sync/last-accepted/writer.js');
  const { acceptedCopy } = await import('../sync/verdict/state.js');
  const { takeStoreHandoff } = await import('../sync/verdict/store-handoff.js');
  const { readFileSync } = await import('node:fs');
  if (flags.configMap === undefined || flags.configMap === '') throw new UsageError('--source api needs --configmap (or ENVOY_XDS_CONFIGMAP)');
  let namespace = flags.namespace;
  // As kubectl does: the kubeconfig's current context may name the namespace.
  if ((namespace === undefined || namespace === '') && flags.kubeconfig !== undefined && flags.kubeconfig !== '') {
    try {
      namespace = kubeconfigNamespace(flags.kubeconfig);
    } catch {
      // unreadable: kubeconfigConnection below says why
    }
  }
  if (namespace === undefined || namespace === '') {
    try {
      namespace = readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').trim();
    } catch {
      throw new UsageError('--source api needs --namespace (or POD_NAMESPACE)');
    }
  }
  const logger = ctx.logger;
  let connection;
  try {
    // Over HTTP/2, --api-check is how long a silent connection waits for a PING, --api-timeout its answer.
    const options = { requestTimeoutMs: flags.timeoutMs, http2: flags.http2, pingAfterMs: flags.checkMs, pingTimeoutMs: flags.timeoutMs };
    connection = flags.kubeconfig !== undefined && flags.kubeconfig !== '' ? kubeconfigConnection(flags.kubeconfig, options) : inClusterConnection(ctx.env, undefined, options);
  } catch (err) {
    // Cannot work as declared: say so, and keep the Pod's config current from the volume.
    logger.error({ error: (err as Error).message }, `--source api cannot reach the Kubernetes API (${(err as Error).message}): following the ConfigMap volume only`);
    const { VolumeSource } = await import('../sync/sources/source.js');
    return { source: new VolumeSource(flags.volumeDir), recorder: undefined, onPass: () => undefined, onVerdict: () => undefined };
  }
  const serviceAccount = ctx.env.POD_SERVICE_ACCOUNT;
  // The fix is read by an operator (log line, Event): a command they can run with kubectl alone.
  const cli = flags.pod === undefined || flags.pod === '' ? (ctx.self ?? 'envoy-xds-injector') : cliThroughPod(namespace, flags.pod);
  const fix = rbacCommandLine(namespace, serviceAccount ?? 'SERVICE_ACCOUNT', flags.configMap, cli);
  let recorder: EventRecorder | undefined;
  // What Envoy accepted (and refused), kept outside the Pod for the next Pod's `copy`; from the store as this Pod's `copy` read it.
  const known = await takeStoreHandoff(flags.targetDir, flags.configMap, logger);
  const lastAccepted = new LastAcceptedWriter({
    connection,
    namespace,
    configMap: flags.configMap,
    ...(flags.pod === undefined || flags.pod === '' ? {} : { pod: flags.pod }),
    acceptedCopy: (file) => acceptedCopy(flags.targetDir, file),
    storeCheckMs: flags.storeCheckMs,
    ...(known === undefined ? {} : { known }),
    logger,
    fixCommand: fix,
  });
  const source = new ApiSource({
    connection,
    namespace,
    configMap: flags.configMap,
    volumeDir: flags.volumeDir,
    logger,
    volumeLagMs: flags.volumeLagMs,
    checkMs: flags.checkMs,
    checkTimeoutMs: flags.timeoutMs,
    // One connection per check period: the store's read rides on the check's when due.
    checkCompanion: lastAccepted.storeCheck.carry(),
    backoff: { maxMs: flags.retryMaxMs },
    ...(serviceAccount === undefined ? {} : { serviceAccount }),
    cli,
    // The same Role allows reading the ConfigMap, writing Events and the store: once it reads, they write.
    onUsableAgain: () => {
      recorder?.permissionsMayHaveChanged();
      lastAccepted.permissionsMayHaveChanged();
    },
  });
  if (flags.pod === undefined || flags.pod === '') {
    logger.warn('no --pod (POD_NAME): Events are not recorded');
  } else {
    recorder = new EventRecorder({
      connection,
      logger,
      fixCommand: fix,
      pod: {
        namespace,
        name: flags.pod,
        ...(ctx.env.POD_UID === undefined ? {} : { uid: ctx.env.POD_UID }),
        ...(ctx.env.NODE_NAME === undefined ? {} : { nodeName: ctx.env.NODE_NAME }),
      },
    });
  }
  // Envoy's verdicts and the gate's refusals become Events; verdicts go to the store too.
  const { onPass, onVerdict } = new Reporters(recorder, lastAccepted);
  const cliWithStdin = flags.pod === undefined || flags.pod === '' ? (ctx.self ?? 'envoy-xds-injector') : cliThroughPod(namespace, flags.pod, { stdin: true });
  return { source, recorder, lastAccepted, onPass, onVerdict, validateHint: configMapValidateHint(cliWithStdin, namespace, flags.configMap) };
}

