// The members of bench/fanout-fleet.ts that are not the watcher's code: the floors (a bare
// list+watch over HTTP/1.1, the same as client-go sends it over HTTP/2 and its variants) and the
// `floor-load` client. Each reports what it receives through `ctx.receive`, as ours do.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { lastAcceptedConfigMapName } from '../src/inject/last-accepted.js';
import type { ConfigMapObject } from '../src/sync/kube/configmap-watch.js';
import { METADATA_ONLY, METADATA_ONLY_LIST } from '../src/sync/kube/connection.js';
import { CONNECTION_WINDOW } from '../src/sync/kube/h2-client.js';
import { kubeconfigConnection } from '../src/sync/kube/kubeconfig.js';

/** One watcher of the fleet (ours or a floor), as the fleet counts it. */
export interface Member {
  stop(): Promise<void>; lastRv: string | undefined; available: boolean;
  stats: { lists: number; watches: number; failures: number; probes?: number; checks?: number; bookmarks?: number; silent?: number };
  /** Store reads: all, and those on a connection of their own. */
  store?: { carried: number; alone: number };
  /** TCP connections the member's KubeConnection opened, and TLS handshakes among them that resumed a session. */
  counts?: { opened: number; resumed: number };
}

/** The ConfigMap watched (the fleet's config), the fleet's mode, and where a member reports a resourceVersion it saw. */
export interface FloorContext {
  server: string;
  namespace: string;
  name: string;
  mode: string;
  receive: (member: Member, rv: string | undefined) => void;
}

/** The floor: list, then watch from the list's resourceVersion; a watch the server ends is opened again. */
export function floor(ctx: FloorContext, kubeconfig: string): Member {
  const doc = JSON.parse(readFileSync(kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[]; users: { user: { token: string } }[] };
  const ca = Buffer.from(doc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64');
  const token = doc.users[0]?.user.token ?? '';
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
  const base = `${ctx.server}/api/v1/namespaces/${ctx.namespace}/configmaps?fieldSelector=${encodeURIComponent(`metadata.name=${ctx.name}`)}`;
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  let stopped = false;
  let current: ReturnType<typeof request> | undefined;
  let rv: string | undefined;
  const member: Member = {
    lastRv: undefined, available: false, stats: { lists: 0, watches: 0, failures: 0 },
    stop: () => { stopped = true; current?.destroy(); agent.destroy(); return Promise.resolve(); },
  };
  const retry = (): void => { member.stats.failures++; member.available = false; if (!stopped) setTimeout(list, 1000); };
  const list = (): void => {
    member.stats.lists++;
    current = request(base, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) { retry(); return; }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { metadata: { resourceVersion: string }; items: ConfigMapObject[] };
        rv = body.metadata.resourceVersion;
        member.available = true;
        ctx.receive(member, body.items[0]?.metadata.resourceVersion);
        watch();
      });
    });
    current.on('error', () => { if (!stopped) retry(); });
    current.end();
  };
  const watch = (): void => {
    member.stats.watches++;
    current = request(`${base}&resourceVersion=${rv ?? ''}&watch=1`, { agent, headers }, (res) => {
      let pending: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        // A refused watch (429 from a just-restarted apiserver, in plain text): listed again at its end.
        if (res.statusCode !== 200) return;
        let start = 0;
        for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
          pending.push(chunk.subarray(start, nl));
          const event = JSON.parse(Buffer.concat(pending).toString('utf8')) as { type: string; object: ConfigMapObject };
          pending = [];
          start = nl + 1;
          rv = event.object.metadata.resourceVersion;
          if (event.type === 'ADDED' || event.type === 'MODIFIED') ctx.receive(member, rv);
        }
        if (start < chunk.length) pending.push(chunk.subarray(start));
      });
      res.on('end', () => { if (!stopped) setTimeout(res.statusCode === 200 ? watch : list, res.statusCode === 200 ? 0 : 1000); });
    });
    current.on('error', () => { if (!stopped) retry(); });
    current.end();
  };
  list();
  return member;
}


/** What client-go's transport asks for (golang.org/x/net/http2 transport.go: 4 MiB stream window, 1 MiB frames, 10 MiB header lists); CONNECTION_WINDOW too. */
const CLIENT_GO_SETTINGS = { enablePush: false, initialWindowSize: 4 << 20, maxFrameSize: 1 << 20, maxHeaderListSize: 10 << 20 } as const;

/** `floor-h2`: the floor as client-go sends it, over HTTP/2 (one connection per watcher) with a PING every 30 s. */
export function floorH2(ctx: FloorContext, kubeconfig: string): Member {
  const doc = JSON.parse(readFileSync(kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[]; users: { user: { token: string } }[] };
  const ca = Buffer.from(doc.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64');
  const token = doc.users[0]?.user.token ?? '';
  const ns = `/api/v1/namespaces/${ctx.namespace}/configmaps`;
  const sel = (name: string): string => `?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
  let stopped = false;
  let session: ClientHttp2Session | undefined;
  let rv: string | undefined;
  let pinger: NodeJS.Timeout | undefined;
  const member: Member = {
    lastRv: undefined, available: false, stats: { lists: 0, watches: 0, failures: 0, probes: 0 },
    stop: () => { stopped = true; clearInterval(pinger); session?.destroy(); return Promise.resolve(); },
  };
  const connectSession = (): ClientHttp2Session => {
    if (session !== undefined && !session.destroyed && !session.closed) return session;
    const go = ctx.mode === 'floor-h2-go';
    // floor-h2-lean: no HPACK dynamic table either way (as ours: src/sync/kube/h2-client.ts HTTP2_SETTINGS).
    const lean = ctx.mode === 'floor-h2-lean' ? { settings: { headerTableSize: 0 }, maxDeflateDynamicTableSize: 0 } : {};
    const opened = h2connect(ctx.server, { ca, ...(go ? { settings: CLIENT_GO_SETTINGS } : {}), ...lean });
    if (go) opened.once('connect', () => { if (!opened.destroyed) opened.setLocalWindowSize(CONNECTION_WINDOW); });
    session = opened;
    session.on('error', () => undefined);
    session.on('close', () => { if (!stopped) { member.available = false; setTimeout(list, 1000); } });
    clearInterval(pinger);
    pinger = setInterval(() => { member.stats.probes = (member.stats.probes ?? 0) + 1; session?.ping(() => undefined); }, 30_000);
    return session;
  };
  const get = (path: string, accept: string, onLine: ((line: string) => void) | undefined, onEnd: (status: number, body: string) => void): void => {
    const s = connectSession();
    const stream = s.request({ ':path': path, authorization: `Bearer ${token}`, accept });
    let status = 0;
    stream.on('response', (h) => { status = Number(h[':status']); });
    let pending = '';
    let all = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      if (onLine === undefined || status !== 200) { all += chunk; return; }
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) { onLine(pending.slice(0, nl)); pending = pending.slice(nl + 1); }
    });
    stream.on('end', () => { onEnd(status, all); });
    stream.on('error', () => undefined);
    stream.end();
  };
  const list = (): void => {
    if (stopped) return;
    member.stats.lists++;
    get(ns + sel(ctx.name), 'application/json', undefined, (status, text) => {
      if (status !== 200) { member.stats.failures++; setTimeout(list, 1000); return; }
      const body = JSON.parse(text) as { metadata: { resourceVersion: string }; items: ConfigMapObject[] };
      rv = body.metadata.resourceVersion;
      member.available = true;
      ctx.receive(member, body.items[0]?.metadata.resourceVersion);
      watch();
    });
  };
  const watch = (): void => {
    if (stopped) return;
    member.stats.watches++;
    const reflector = ctx.mode === 'floor-h2-reflector' ? `&allowWatchBookmarks=true&timeoutSeconds=${String(300 + Math.floor(Math.random() * 300))}` : '';
    get(`${ns}${sel(ctx.name)}&resourceVersion=${rv ?? ''}&watch=1${reflector}`, 'application/json', (line) => {
      const event = JSON.parse(line) as { type: string; object: ConfigMapObject };
      rv = event.object.metadata.resourceVersion;
      if (event.type === 'ADDED' || event.type === 'MODIFIED') ctx.receive(member, rv);
    }, (status) => { if (!stopped && session !== undefined && !session.closed) setTimeout(status === 200 ? watch : list, status === 200 ? 0 : 1000); });
  };
  // As ours starts: GET /readyz before the list, and the store's first read (a GET) within 2 s, on the same connection.
  if (ctx.mode === 'floor-h2-start' || ctx.mode === 'floor-h2-readyz') get('/readyz', 'application/json', undefined, () => { list(); });
  else list();
  if (ctx.mode === 'floor-h2-start' || ctx.mode === 'floor-h2-store' || ctx.mode === 'floor-h2-store-late') {
    const storePath = `${ns}/${encodeURIComponent(lastAcceptedConfigMapName(ctx.name))}`;
    const delay = ctx.mode === 'floor-h2-store-late' ? 10_000 + Math.random() * 20_000 : Math.random() * 2000;
    setTimeout(() => { if (!stopped) get(storePath, 'application/json', undefined, () => undefined); }, delay);
  }
  return member;
}

/**
 * `floor-load`: one client sending `share` metadata lists per 30 s and `share` metadata GETs per
 * 37.5 s (what `share` of ours send at rest), evenly spread, on one kept-alive connection.
 */
export function load(ctx: FloorContext, kubeconfig: string, share: number): Member {
  const connection = kubeconfigConnection(kubeconfig);
  const base = `/api/v1/namespaces/${encodeURIComponent(ctx.namespace)}/configmaps`;
  const list = `${base}?${new URLSearchParams({ fieldSelector: `metadata.name=${ctx.name}`, resourceVersion: '0' }).toString()}`;
  const get = `${base}/${encodeURIComponent(lastAcceptedConfigMapName(ctx.name))}?resourceVersion=0`;
  const timers = [
    setInterval(() => { void connection.request('GET', list, undefined, undefined, undefined, { accept: METADATA_ONLY_LIST }).catch(() => undefined); }, 30_000 / share),
    setInterval(() => { void connection.request('GET', get, undefined, undefined, undefined, { accept: METADATA_ONLY }).catch(() => undefined); }, 37_500 / share),
  ];
  return {
    lastRv: 'load', available: true, stats: { lists: 0, watches: 0, failures: 0 },
    stop: () => { timers.forEach(clearInterval); connection.close(); return Promise.resolve(); },
  };
}
