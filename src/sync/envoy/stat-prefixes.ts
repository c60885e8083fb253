// Envoy's subscriptions as Envoy lists them. Every xDS subscription keeps its counters under one
// stats scope (`Config::Utility::generateStats`: `<scope>.update_attempt|update_success|
// update_rejected|update_failure|version_text|...`), so the scopes with a `version_text` are the
// subscriptions this Envoy has created (isSubscription: what tells them when only the stats Envoy
// wrote are asked for). The scope's head says the xDS type; the rest is a name Envoy
// chose (a listener's stat_prefix, a cluster's alt_stat_name, a name with ':' replaced), which the
// watcher never rebuilds: it matches scopes to files by the version Envoy reports (attribution.ts).
// Heads, from Envoy's source: `listener_manager.lds.` (LdsApiImpl, source/common/listener_manager/
// lds_api.cc), `cluster_manager.cds.` (CdsApiImpl, source/common/upstream/cds_api_impl.cc),
// `http.<stat_prefix>.rds.<route_config_name>.` (RdsRouteConfigSubscription,
// source/common/router/rds_impl.cc), `cluster.<alt_stat_name or name>.` (EdsClusterImpl subscribes
// in the cluster's own stats scope, source/extensions/clusters/eds/eds.cc), `sds.<secret name>.`
// (SdsApi, source/common/secret/sds_api.cc), `extension_config_discovery.<filter type>.<name>.`
// (FilterConfigProviderManagerImpl, source/common/filter/config_discovery_impl.cc),
// `http.<stat_prefix>.scoped_rds.<scoped_routes name>.` (ScopedRdsConfigSubscription,
// source/common/router/scoped_rds.cc; the route configurations its scopes name are RDS
// subscriptions on the scoped_routes' rds_config_source), `runtime.` (RtdsSubscription,
// source/common/runtime/runtime_impl.cc: one scope shared by every RTDS layer).

export type SubscriptionType = 'LDS' | 'CDS' | 'RDS' | 'EDS' | 'SDS' | 'ECDS' | 'SRDS' | 'RTDS';

/** The counters of one subscription scope, read from `/stats` at one moment. */
export interface SubscriptionCounters {
  /** `version_text`: the version_info of the last update Envoy accepted ('' before any). */
  versionText: string;
  attempt: number;
  success: number;
  rejected: number;
  failure: number;
  /** SDS only: `key_rotation_failed`, re-reads of the files a secret names that Envoy refused. */
  keyRotationFailed?: number;
}

/** The xDS type of a subscription scope, from the head Envoy gives it; undefined for others (runtime, ...). */
export function subscriptionType(prefix: string): SubscriptionType | undefined {
  if (prefix === 'listener_manager.lds') return 'LDS';
  if (prefix === 'cluster_manager.cds') return 'CDS';
  if (/^http\..+\.scoped_rds\..+/.test(prefix)) return 'SRDS';
  if (/^http\..+\.rds\..+/.test(prefix)) return 'RDS';
  if (prefix === 'runtime') return 'RTDS';
  if (prefix.startsWith('sds.')) return 'SDS';
  if (prefix.startsWith('extension_config_discovery.')) return 'ECDS';
  if (prefix.startsWith('cluster.')) return 'EDS';
  return undefined;
}

export const SUBSCRIPTION_FIELDS = ['version_text', 'update_attempt', 'update_success', 'update_rejected', 'update_failure', 'key_rotation_failed'] as const;
/**
 * The `/stats?filter=` regex for every subscription's counters, Envoy's count of ignored unknown
 * fields, and the TLS contexts rebuilt from SDS secrets (`ssl_context_update_by_sds` of each
 * listener's or cluster's TLS socket factory, source/common/tls/context_config_impl.cc users).
 */
export const SUBSCRIPTIONS_FILTER = `(\\.(${SUBSCRIPTION_FIELDS.join('|')}|ssl_context_update_by_sds)$)|(^server\\.dynamic_unknown_fields$)`;

export interface EnvoyCounters {
  /** Subscription scope → counters; only subscriptions' scopes (stat-prefixes.ts isSubscription). */
  subscriptions: Map<string, SubscriptionCounters>;
  /** `server.dynamic_unknown_fields`: loads of dynamic config in which Envoy ignored a field (one per load: verdict/unknown-fields.ts). */
  unknownFields: number;
  /** Sum of every `*.ssl_context_update_by_sds`: TLS contexts Envoy rebuilt from a secret (a certificate it took). */
  sslContextUpdates: number;
  /** Which Envoy process answered (set by envoy/admin.ts; absent in readings built otherwise). */
  answeredBy?: AnsweredBy;
  /**
   * The watcher's number for the Envoy process that answered (verdict/envoy-process.ts): readings
   * with different epochs come from different processes, whose counters are not comparable.
   */
  epoch?: number;
  /**
   * performance.now() when the request was sent and when its answer came (set by envoy/admin.ts):
   * the answer reflects every rename done before `sentAt` (verdict/pending.ts says why) and none
   * done after `answeredAt`.
   */
  sentAt?: number;
  answeredAt?: number;
}

/** ms from a reading's request to its answer (0 when unknown): about what the reading cost Envoy's main thread (bench:admin). */
export function roundTripMs(reading: EnvoyCounters | undefined): number {
  return reading?.sentAt === undefined || reading.answeredAt === undefined ? 0 : reading.answeredAt - reading.sentAt;
}

/**
 * The admin connection an answer came on and, for the first answer on a connection, when the Envoy
 * process that accepted it started. A kept-alive connection dies with the process that accepted it,
 * so every answer on one connection comes from one process.
 */
export interface AnsweredBy {
  /** The watcher's serial number of the admin connection (one per TCP or unix socket it opened). */
  connection: number;
  /**
   * Epoch ms when that Envoy process started: its BootstrapConfigDump's `last_updated` (when it
   * loaded its bootstrap, to the millisecond, the same on every reading of one process:
   * config-dump.ts startedAtFromConfigDump). Undefined when not read (a connection already known, or
   * the config dump did not answer).
   */
  startedAtMs?: number;
  /**
   * Envoy's bootstrap as that process loaded it (its `dynamic_resources` and `static_resources`,
   * config-dump.ts PROCESS_START_AND_BOOTSTRAP_PATH), when the watcher asked for it. The same object on
   * every reading of one connection.
   */
  bootstrap?: Record<string, unknown>;
}

/**
 * Parses `/stats?filter=SUBSCRIPTIONS_FILTER` (text format: `name: value` per line, text readouts
 * quoted), with or without `usedonly`. Scopes that are no subscription (a cluster's
 * `update_attempt` for DNS, ...) are left out: see `isSubscription`.
 */
export function parseSubscriptionStats(body: string): EnvoyCounters {
  return countersOf(scopesOf(body));
}

/**
 * The same for an answer to `/stats?usedonly&filter=SUBSCRIPTIONS_FILTER`, or the scopes only a
 * list of the subscriptions can tell (`unsureUnderUsedOnly`). `withVersionText`: the scopes that
 * have a `version_text` (VERSION_TEXTS_PATH, parseVersionTexts), when asked: an unsure scope among
 * them is a subscription Envoy never took an update from (`version_text` ''), any other is none.
 */
export function parseUsedOnlyStats(body: string): EnvoyCounters | { unsure: string[] };
export function parseUsedOnlyStats(body: string, withVersionText: ReadonlySet<string>): EnvoyCounters;
export function parseUsedOnlyStats(body: string, withVersionText?: ReadonlySet<string>): EnvoyCounters | { unsure: string[] } {
  const scopes = scopesOf(body);
  const unsure = [...scopes.raw].filter(([, scope]) => unsureUnderUsedOnly(scope)).map(([prefix]) => prefix);
  if (withVersionText === undefined) return unsure.length > 0 ? { unsure } : countersOf(scopes);
  for (const prefix of unsure) if (!withVersionText.has(prefix)) scopes.raw.delete(prefix);
  return countersOf(scopes, new Set(unsure));
}

/**
 * Every scope's `version_text`, written or not: only the text readouts are walked (one per
 * subscription and few others; 0.37 ms of Envoy's CPU with 1,000 clusters against 4.8 for the
 * counters with `usedonly`, bench:admin), so it settles which scopes are subscriptions at little cost.
 */
export const VERSION_TEXTS_PATH = `/stats?type=TextReadouts&filter=${encodeURIComponent('\\.version_text$')}`;

/** The scopes in an answer to VERSION_TEXTS_PATH. */
export function parseVersionTexts(body: string): Set<string> {
  const out = new Set<string>();
  for (const line of body.split('\n')) {
    const colon = line.indexOf(': ');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (name.endsWith('.version_text')) out.add(name.slice(0, -'.version_text'.length));
  }
  return out;
}

/** One stats scope of an answer: its xDS type (subscriptionType of its name, computed once) and its fields. */
interface Scope {
  type: SubscriptionType | undefined;
  /** Field → value as Envoy printed it. */
  fields: Map<string, string>;
}

interface Scopes {
  /** Scope name → scope. */
  raw: Map<string, Scope>;
  unknownFields: number;
  sslContextUpdates: number;
}

function scopesOf(body: string): Scopes {
  const raw = new Map<string, Scope>();
  let unknownFields = 0;
  let sslContextUpdates = 0;
  for (const line of body.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon === -1) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (name === 'server.dynamic_unknown_fields') {
      unknownFields = Number(value);
      continue;
    }
    const dot = name.lastIndexOf('.');
    if (name.endsWith('.ssl_context_update_by_sds')) {
      sslContextUpdates += Number(value);
      continue;
    }
    const prefix = name.slice(0, dot);
    const scope = raw.get(prefix) ?? { type: subscriptionType(prefix), fields: new Map<string, string>() };
    scope.fields.set(name.slice(dot + 1), value);
    raw.set(prefix, scope);
  }
  return { raw, unknownFields, sslContextUpdates };
}

/**
 * Whether a scope is a subscription's. Every subscription has a `version_text` (Envoy creates the
 * scope's stats with it, `Config::Utility::generateStats`), so without `usedonly` that one decides.
 * With `usedonly` a stat never written is left out (StatsRequest skips `!stat.used()`, and a text
 * readout is used once set, TextReadoutImpl::set: after the first accepted update), so a
 * subscription Envoy never took anything from shows only its counters: `update_rejected` (no other
 * scope has it) or, under every head but a cluster's, `update_attempt` (FilesystemSubscriptionImpl
 * counts one the moment it starts). A cluster's scope holds its membership counters too (DNS:
 * `update_attempt`, `update_success`, `update_failure`), so there only `version_text` or
 * `update_rejected` tell; `unsureUnderUsedOnly` says when they cannot.
 */
function isSubscription({ type, fields }: Scope): boolean {
  if (fields.has('version_text') || fields.has('update_rejected')) return true;
  return type !== undefined && type !== 'EDS' && fields.has('update_attempt');
}

/**
 * A cluster's scope under `usedonly` with neither `version_text`, `update_rejected` nor
 * `update_success`: an EDS subscription whose only loads failed (`update_failure`, a file Envoy
 * could not convert, measured on 1.40) reads exactly as a DNS cluster that never resolved.
 * One that succeeded once has a `version_text` (set before `update_success`, refresh).
 */
function unsureUnderUsedOnly({ type, fields }: Scope): boolean {
  return type === 'EDS' && !fields.has('version_text') && !fields.has('update_rejected') && !fields.has('update_success');
}

/** `known`: scopes already told to be subscriptions (parseUsedOnlyStats). */
function countersOf({ raw, unknownFields, sslContextUpdates }: Scopes, known: ReadonlySet<string> = new Set()): EnvoyCounters {
  const subscriptions = new Map<string, SubscriptionCounters>();
  for (const [prefix, scope] of raw) {
    if (!known.has(prefix) && !isSubscription(scope)) continue;
    const { type, fields } = scope;
    const number = (field: string): number => Number(fields.get(field) ?? 0);
    // Every SDS scope has `key_rotation_failed` (SdsApi's stats); left out by `usedonly` at 0.
    const rotation = fields.get('key_rotation_failed') ?? (type === 'SDS' ? '0' : undefined);
    subscriptions.set(prefix, {
      versionText: unquote(fields.get('version_text') ?? ''),
      attempt: number('update_attempt'),
      success: number('update_success'),
      rejected: number('update_rejected'),
      failure: number('update_failure'),
      ...(rotation === undefined ? {} : { keyRotationFailed: Number(rotation) }),
    });
  }
  return { subscriptions, unknownFields, sslContextUpdates };
}

// Envoy prints a text readout quoted, with `"` and `\` escaped (source/server/admin/stats_render.cc).
function unquote(value: string): string {
  if (!value.startsWith('"') || !value.endsWith('"')) return value;
  try {
    return JSON.parse(value) as string;
  } catch {
    return value.slice(1, -1);
  }
}

/**
 * A resource name as Envoy writes it in a stat name (`Stats::Utility::sanitizeStatsName`,
 * source/common/stats/utility.cc: one leading and one trailing `.` dropped, `://`, `:/`, `:` and NUL
 * each become `_`): `kubernetes://envoy-tls` → `kubernetes_envoy-tls`. Used only to break a tie
 * between files of one type (scopeNamedAfter, verdict/attribution.ts), never to name a scope.
 */
export function statNameOf(name: string): string {
  let trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed.startsWith('.')) trimmed = trimmed.slice(1);
  return trimmed.replace(/:\/\/|:\/|:|\0/g, '_');
}

/**
 * Whether Envoy named the stats scope `prefix` (of a subscription of `type`) after `name`, the name
 * a configuration gives that subscription (references.ts: an EDS cluster's `statName`, else the
 * resource asked for). An EDS subscription lives in its cluster's scope, made whole from the
 * cluster's stats name: `createScope("cluster.<name>.")`, sanitised as one string
 * (`generateStatsScope`, source/common/upstream/upstream_impl.cc; ScopeImpl::createScope,
 * source/common/stats/thread_local_store.cc), so it must equal that. Other heads end with the
 * sanitised name (`http.<stat_prefix>.rds.<route_config_name>`, `sds.<secret>`, ...).
 */
export function scopeNamedAfter(prefix: string, type: SubscriptionType, name: string): boolean {
  if (type === 'EDS') return prefix === statNameOf(`cluster.${name}.`);
  return prefix.endsWith(`.${statNameOf(name)}`);
}
