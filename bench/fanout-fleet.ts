// Child process of bench/fanout.ts: many list+watches of ONE ConfigMap from one process, each with
// its own ServiceAccount token, its own https.Agent and so its own TLS connection (as separate Pods
// have), driven by the parent over IPC.
//
//   mode `ours`:  the watcher's own code, ConfigMapWatch + KubeConnection (src/sync/kube), the
//                 very objects `watch --source api` runs: same requests (the /readyz probe included),
//                 same backoff and jitter, over HTTP/2 (one connection, its liveness by PINGs, no
//                 --api-check list); plus, as each real watcher does once its Envoy has judged a
//                 version and holds a refusal, the --store-check read of the last-accepted store
//                 from the apiserver's cache (src/sync/last-accepted: the StoreCheckTimer the writer
//                 runs, with the requests of readChangedStore: its metadata, and the whole store when
//                 that changed; here without the refill logic), a stream on the same connection.
//                 Envoy's first verdict goes to the watcher's store writer (LastAcceptedWriter) within
//                 2 s, starting from the store as `copy` handed it over: the store already holds that
//                 verdict, so nothing is sent (bench/fanout-store.ts).
//   mode `ours-store-get`: as `ours`, without the handoff (as released before, or copy without the
//                 store): the writer GETs the store for Envoy's first verdict (finding it held: no PUT).
//   mode `ours-nostore`: as `ours`, no first verdict at all (no writer): the same requests as `ours`.
//   mode `ours-store-cache`: as `ours-store-get`, that GET with resourceVersion=0 (served from the apiserver's
//                 watch cache, no etcd read).
//   mode `ours-refused`: as `ours`, with the store read every 30-45 s as while the Pod's Envoy holds a
//                 refusal (at rest `ours` reads it only then, and this bench's edits are all accepted).
//   mode `ours-bookmarks`: as `ours` over HTTP/1.1: the --api-check list every 30 s until the watch
//                 hears a BOOKMARK, none while BOOKMARKs come (nothing heard for a minute plus
//                 --api-timeout ends the connection: src/sync/kube/bookmark-watchdog.ts); the store
//                 read only while a refusal is held, as `ours` (none here).
//   mode `ours-http1`: as `ours` over HTTP/1.1 (as released before HTTP/2): the watch's --api-check
//                 list every 30 s, BOOKMARKs or not, carries the store read, both on one short-lived
//                 connection. The `ours-*` variants below are HTTP/1.1 designs too.
//   mode `ours-split`: as `ours`, but the store read not carried by the check: each read on a
//                 connection of its own, the store's every 30 s x 1-1.5 (as released before).
//   mode `ours-sync`: as `ours`, but each watch's first check one whole period after it opened (as
//                 before the random first check): watches opened together check together.
//   mode `ours-kept`: as `ours-split`, but every check and store read on the pooled keep-alive
//                 connection (no KubeSession): a second connection kept open beside the watch.
//   mode `ours-rewatch`: the same objects with no --api-check list: instead each watch asks the
//                 apiserver to end it after 20-40 s (minWatchTimeoutS 20) and is resumed from its
//                 last resourceVersion on the same connection (the store reads on their own).
//   (the floors' code: bench/fanout-floors.ts)
//   mode `floor`: a bare list+watch, nothing of ours: node:https, `GET ...?fieldSelector=` then
//                 `GET ...?fieldSelector=...&resourceVersion=RV&watch=1`, each line JSON.parse'd.
//   mode `floor-h2`: the floor as client-go sends it: over HTTP/2 (node:http2, a connection per
//                 watcher), a PING every 30 s (client-go's ReadIdleTimeout on a quiet connection).
//   mode `floor-h2-go`: floor-h2 with the SETTINGS and connection window client-go's transport sends
//                 (golang.org/x/net/http2: 4 MiB stream window, 1 GiB connection window, 1 MiB frames).
//   mode `floor-h2-lean`: floor-h2 with no HPACK dynamic table either way (SETTINGS_HEADER_TABLE_SIZE
//                 0, nothing indexed), as ours asks.
//   mode `floor-h2-start`: floor-h2 starting as ours does: GET /readyz before the list, and one GET of
//                 the last-accepted store within 2 s.
//   mode `floor-h2-readyz`: floor-h2 with GET /readyz before the list only (floor-h2-start's first half).
//   mode `floor-h2-store`: floor-h2 with the store GET within 2 s only (floor-h2-start's second half).
//   mode `floor-h2-store-late`: floor-h2 with the store GET at a random point 10-30 s after the start
//                 (after the start's burst of lists and watches).
//   mode `floor-h2-reflector`: floor-h2 with the watch parameters client-go's reflector sends
//                 (allowWatchBookmarks=true, timeoutSeconds 300-600).
//   mode `floor-load`: the floor, plus one client per process sending as many metadata lists from
//                 the watch cache (on one kept-alive connection) as its share of ours sends checks and
//                 store reads: what the apiserver's memory does when it allocates at rest for
//                 reasons that are not per watcher (as a cluster's does).
//
// argv: MODE CONFIG.json ({server, namespace, name, kubeconfigs: [path per watcher], start?: {verdict, handoff}}).
// IPC in:  {op:'open', from, to} | {op:'expect', rv, timeoutMs} | {op:'status'} | {op:'close'}
// IPC out: {op:'opened', ready, failed} | {op:'delivered', rv, times: [epoch ms per watcher]} |
//          {op:'status', available, lists, watches, failures, probes, checks, bookmarks, silent, storeGets, storeAlone,
//           connections, resumed, loopDelayMaxMs} |
//          {op:'closed'}
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { ConfigMapWatch } from '../src/sync/kube/configmap-watch.js';
import { sessionOf, type KubeConnection, type KubeSession } from '../src/sync/kube/connection.js';
import { kubeconfigConnection } from '../src/sync/kube/kubeconfig.js';
import { lastAcceptedConfigMapName } from '../src/inject/last-accepted.js';
import { metadataOf, ownKey, readChangedStore, type CompleteStore } from '../src/sync/last-accepted/store-check.js';
import { StoreCheckTimer } from '../src/sync/last-accepted/store-check-timer.js';
import type { OwnVerdicts } from '../src/sync/last-accepted/changes.js';
import type { LastAcceptedWriter } from '../src/sync/last-accepted/writer.js';
import { recordFirstVerdict, type FirstVerdict } from './fanout-store.js';
import { floor, floorH2, load, type FloorContext, type Member } from './fanout-floors.js';

const NO_VERDICTS: ReadonlyMap<string, OwnVerdicts> = new Map();

interface FleetConfig { server: string; namespace: string; name: string; kubeconfigs: string[]; start?: { verdict: FirstVerdict; handoff: string } }
type Mode = 'ours' | 'ours-bookmarks' | 'ours-split' | 'ours-sync' | 'ours-kept' | 'ours-rewatch' | 'floor' | 'floor-load' | 'floor-h2' | 'floor-h2-go' | 'floor-h2-lean' | 'floor-h2-reflector' | 'floor-h2-start' | 'floor-h2-readyz' | 'floor-h2-store' | 'floor-h2-store-late' | 'ours-http1' | 'ours-refused' | 'ours-nostore' | 'ours-store-cache' | 'ours-store-get';

const mode = process.argv[2] as Mode;
const config = JSON.parse(readFileSync(process.argv[3] ?? '', 'utf8')) as FleetConfig;
const now = (): number => performance.timeOrigin + performance.now();
const silent = pino({ level: 'silent' });

// How late this process runs its timers and I/O callbacks (the machine is shared): the longest
// delay since the last status request, for the bench to print next to a storm.
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

/** Epoch ms at which each watcher first saw each resourceVersion. */
const receipts = new Map<string, number[]>();
const waiting = new Map<string, () => void>();
let expected = 0;

const STORE_CHECK_MS = 30_000;
/** What the floors (fanout-floors.ts) are given. */
const floors: FloorContext = { server: config.server, namespace: config.namespace, name: config.name, mode, receive: (member, rv) => { receive(member, rv); } };
const members: Member[] = [];
const loaders: Member[] = [];

function receive(member: Member, rv: string | undefined): void {
  if (rv === undefined || rv === member.lastRv) return;
  member.lastRv = rv;
  let list = receipts.get(rv);
  if (list === undefined) receipts.set(rv, (list = []));
  list.push(now());
  if (list.length >= expected) waiting.get(rv)?.();
}

/** The connection with every request on the pooled keep-alive connection (`ours-kept`): a session is the pool. */
function kept(connection: KubeConnection): KubeConnection {
  const pooled: KubeConnection = { ...connection };
  delete pooled.session;
  return pooled;
}

function ours(kubeconfig: string): Member {
  const member: Member = { lastRv: undefined, available: false, stats: { lists: 0, watches: 0, failures: 0 }, stop: () => Promise.resolve() };
  // `ours` speaks HTTP/2 as the watcher does; the other variants are the HTTP/1.1 designs before it.
  // The variants of `ours` over HTTP/2 at rest: reads of the store only while a refusal is held (none here) but `ours-refused`.
  const asOurs = mode === 'ours' || mode === 'ours-nostore' || mode === 'ours-store-cache' || mode === 'ours-store-get';
  const own = kubeconfigConnection(kubeconfig, asOurs || mode === 'ours-refused' ? {} : { http2: false });
  const byBookmarks = mode === 'ours-bookmarks';
  const connection = mode === 'ours-kept' ? kept(own) : own;
  const storePath = `/api/v1/namespaces/${encodeURIComponent(config.namespace)}/configmaps/${encodeURIComponent(lastAcceptedConfigMapName(config.name))}`;
  // What a full read found (no verdicts here: any store read whole counts as complete).
  let complete: CompleteStore | undefined;
  const readStore = (session: Pick<KubeSession, 'request'>): Promise<void> => readChangedStore(session, storePath, complete, NO_VERDICTS)
    .then((read) => { complete = read.complete ?? (read.got === undefined ? complete : undefined); });
  // The watcher reads the store at rest only while its Envoy holds a refusal (changes.ts holdsRefusal):
  // in this bench every edit is accepted, so `ours` reads none; `ours-refused` reads as while one is held
  // (and the HTTP/1.1 variants as released before, whenever Envoy had judged a version).
  const store = new StoreCheckTimer({ connection, everyMs: STORE_CHECK_MS, wanted: () => !asOurs && !byBookmarks, check: readStore, onError: () => undefined });
  // Over HTTP/1.1 the store read rides on the check's connection (ours-split: not); over HTTP/2 no check comes to carry it.
  const carried = mode === 'ours-http1' || mode === 'ours-sync' || byBookmarks;
  const watch = new ConfigMapWatch({
    connection,
    ...(mode === 'ours-rewatch' ? { checkMs: 0, minWatchTimeoutS: 20 } : {}),
    ...(mode === 'ours-sync' ? { randomCheckPhase: false } : {}),
    // The HTTP/1.1 designs before BOOKMARKs stood in for the check: every period's check.
    ...(mode.startsWith('ours-') && !byBookmarks && !asOurs ? { bookmarkLiveness: false } : {}),
    ...(carried ? { companion: store.carry() } : {}),
    namespace: config.namespace,
    name: config.name,
    logger: silent,
    onEvent: (event) => { if (event.type === 'object') receive(member, event.configMap.metadata.resourceVersion); },
    onAvailability: (available) => { member.available = available; },
  });
  member.stats = watch.stats;
  member.store = store.stats;
  member.counts = own.counts;
  // The first read whole at once (within 2 s, on its own connection): a watcher reads the store
  // whole once, then its metadata only while it is unchanged; the rest window measures that steady
  // state, not the first reads. It is the GET the writer's first write sends after Envoy's first
  // verdict (writer.ts: the whole store, no resourceVersion), one request.
  // `ours-nostore`: without it; `ours-store-cache`: the GET from the apiserver's watch cache (resourceVersion=0) instead of etcd.
  // `ours` and `ours-store-get`: Envoy's first verdict through the watcher's store writer, with and without copy's handoff.
  let writer: LastAcceptedWriter | undefined;
  const first = setTimeout(() => {
    if (mode === 'ours-nostore') return;
    if ((mode === 'ours' || mode === 'ours-store-get') && config.start !== undefined) {
      writer = recordFirstVerdict(connection, { namespace: config.namespace, configMap: config.name, pod: `${config.namespace}/fleet`, verdict: config.start.verdict, handoff: mode === 'ours' ? config.start.handoff : undefined, logger: silent });
      return;
    }
    const session = sessionOf(connection);
    void session.request('GET', mode === 'ours-store-cache' ? `${storePath}?resourceVersion=0` : storePath).then((got) => {
      const { uid, resourceVersion } = metadataOf(got.body) ?? {};
      if (got.status === 200 && uid !== undefined && resourceVersion !== undefined) complete = { uid, resourceVersion, own: ownKey(NO_VERDICTS) };
    }).catch(() => undefined).finally(() => { session.end(); });
  }, Math.random() * 2000);
  member.stop = async () => { clearTimeout(first); store.stop(); await writer?.close(); await watch.stop(); own.close(); };
  watch.start();
  return member;
}

async function open(from: number, to: number): Promise<void> {
  if (mode === 'floor-load' && to > from) loaders.push(load(floors, config.kubeconfigs[from] ?? '', to - from));
  const start = members.length;
  // Pods do not all start in the same millisecond: 25 at a time, one batch per 50 ms (500/s).
  for (let i = from; i < to; i += 25) {
    for (const kubeconfig of config.kubeconfigs.slice(i, Math.min(to, i + 25))) members.push(mode.startsWith('ours') ? ours(kubeconfig) : mode.startsWith('floor-h2') ? floorH2(floors, kubeconfig) : floor(floors, kubeconfig));
    await new Promise((r) => setTimeout(r, 50));
  }
  const deadline = Date.now() + 120_000;
  while (members.slice(start).some((m) => m.lastRv === undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const ready = members.slice(start).filter((m) => m.lastRv !== undefined).length;
  process.send?.({ op: 'opened', ready, failed: to - from - ready });
}

process.on('message', (msg: { op: string; from?: number; to?: number; rv?: string; timeoutMs?: number }) => {
  if (msg.op === 'open') void open(msg.from ?? 0, msg.to ?? 0);
  else if (msg.op === 'expect') {
    const rv = msg.rv ?? '';
    expected = members.length;
    const reply = (): void => { clearTimeout(timer); waiting.delete(rv); process.send?.({ op: 'delivered', rv, times: receipts.get(rv) ?? [] }); receipts.delete(rv); };
    const timer = setTimeout(reply, msg.timeoutMs ?? 60_000);
    waiting.set(rv, reply);
    if ((receipts.get(rv)?.length ?? 0) >= expected) reply();
  } else if (msg.op === 'status') {
    const sum = (k: 'lists' | 'watches' | 'failures' | 'probes' | 'checks' | 'bookmarks' | 'silent'): number => members.reduce((s, m) => s + (m.stats[k] ?? 0), 0);
    const total = (f: (m: Member) => number | undefined): number => members.reduce((s, m) => s + (f(m) ?? 0), 0);
    process.send?.({
      op: 'status', available: members.filter((m) => m.available).length, lists: sum('lists'), watches: sum('watches'), failures: sum('failures'), probes: sum('probes'), checks: sum('checks'), bookmarks: sum('bookmarks'), silent: sum('silent'),
      storeGets: total((m) => (m.store === undefined ? undefined : m.store.carried + m.store.alone)), storeAlone: total((m) => m.store?.alone),
      connections: total((m) => m.counts?.opened), resumed: total((m) => m.counts?.resumed),
      loopDelayMaxMs: Math.round(loopDelay.max / 1e6),
    });
    loopDelay.reset();
  } else if (msg.op === 'close') {
    void Promise.all([...members, ...loaders].map((m) => m.stop())).then(() => { process.send?.({ op: 'closed' }); setTimeout(() => process.exit(0), 50); });
  }
});
process.on('disconnect', () => process.exit(0));
