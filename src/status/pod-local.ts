// The Pod-local status (`envoy-xds-injector status --json`, run inside the watcher container) as
// the workload view reads it. Parsed field by field: the CLI may be newer or older than the image
// the watcher runs, so unknown fields are ignored and missing optional ones stay undefined.

import type { SchemaSees } from '../sync/envoy/rejection-reason.js';
import type { IgnoredWhen, WithReader } from '../sync/verdict/messages.js';
import type { RunsOfRefused } from '../sync/verdict/status-applied.js';

export interface PodLocalFile {
  file: string;
  /** Version of the content the Pod's ConfigMap source holds (the volume), as `watch` stamps it. */
  configMap?: string;
  /** That content is what Envoy refused, held back by the watcher. */
  held: boolean;
  published?: string;
  /** The watcher holds the ConfigMap's content back (a file Envoy reads only when it builds its reader): why, in its words. */
  heldBack?: string;
  /** Whether Envoy has a subscription on this file (path_config_source); undefined from older watchers. */
  subscribed?: boolean;
  /** `runs`: of a refused LDS or CDS file that stays published, what Envoy runs of it (absent from older watchers). */
  envoy?: { version: string; live: boolean; at?: string; runs?: RunsOfRefused };
  /** A file read through another (a Lua script, a certificate): what Envoy runs, as accepted with its reader; undefined from older watchers. */
  withReader?: WithReader;
  verdict?: {
    outcome: 'accepted' | 'rejected' | 'unknown';
    version?: string;
    at: string;
    message: string;
    reason?: string;
    reasonPossiblyEarlier?: boolean;
    /** `reason` is the watcher's reading of Envoy's counters, not Envoy's words (absent from older watchers). */
    reasonFromCounters?: true;
    /** rejected: Envoy took it, but it went back with this CDS file, which Envoy refused (absent from older watchers). */
    withdrawnWith?: string;
    envoyLog?: string;
    /** rejected: a schema check sees this kind of refusal (absent from older watchers, and when none does). */
    schema?: SchemaSees;
    /** accepted: fields Envoy ignored in that version (server.dynamic_unknown_fields). */
    ignoredFields?: number;
    /** accepted with ignoredFields: the files Envoy loaded together, any of which holds them. */
    ignoredAmong?: string[];
    /** With ignoredAmong: loaded at start or as one change (absent in state files of older watchers: at start). */
    ignoredWhen?: IgnoredWhen;
    /** accepted CDS: route files still naming a cluster that version removed (routes-stranded.ts). */
    strandedRoutes?: { file: string; clusters: string[]; unchecked?: true }[];
  };
}

export interface PodLocalStatus {
  targetDir: string;
  adminProblem?: string;
  watcherPid: number;
  /** false when the pid that wrote the state is gone; undefined from older watchers. */
  watcherRunning?: boolean;
  updatedAt: string;
  files: PodLocalFile[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Parses `status --json` output. Throws an Error saying what is wrong when it is not that shape. */
export function parsePodLocalStatus(text: string): PodLocalStatus {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`the Pod-local status is not JSON (${(err as Error).message}): ${text.slice(0, 200)}`, { cause: err });
  }
  if (!isObject(doc) || !Array.isArray(doc.files)) throw new Error(`the Pod-local status has no files: ${text.slice(0, 200)}`);
  const files: PodLocalFile[] = [];
  for (const raw of doc.files as unknown[]) {
    if (!isObject(raw) || typeof raw.file !== 'string') continue;
    const f: PodLocalFile = { file: raw.file, held: raw.held === true };
    const configMap = str(raw.configMap);
    if (configMap !== undefined) f.configMap = configMap;
    const published = str(raw.published);
    if (published !== undefined) f.published = published;
    const heldBack = str(raw.heldBack);
    if (heldBack !== undefined) f.heldBack = heldBack;
    if (typeof raw.subscribed === 'boolean') f.subscribed = raw.subscribed;
    if (isObject(raw.envoy) && typeof raw.envoy.version === 'string') {
      const at = str(raw.envoy.at);
      const runs = runsOf(raw.envoy.runs);
      f.envoy = { version: raw.envoy.version, live: raw.envoy.live === true, ...(at === undefined ? {} : { at }), ...(runs === undefined ? {} : { runs }) };
    }
    const w = raw.withReader;
    if (isObject(w) && typeof w.accepted === 'string') f.withReader = { accepted: w.accepted, at: str(w.at) ?? '' };
    else if (isObject(w) && w.none === true) f.withReader = { none: true };
    const v = raw.verdict;
    if (isObject(v) && (v.outcome === 'accepted' || v.outcome === 'rejected' || v.outcome === 'unknown')) {
      f.verdict = { outcome: v.outcome, at: str(v.at) ?? '', message: str(v.message) ?? '' };
      for (const key of ['version', 'reason', 'envoyLog', 'withdrawnWith'] as const) {
        const value = str(v[key]);
        if (value !== undefined) f.verdict[key] = value;
      }
      if (v.reasonPossiblyEarlier === true) f.verdict.reasonPossiblyEarlier = true;
      if (v.reasonFromCounters === true) f.verdict.reasonFromCounters = true;
      if (v.schema === 'sees' || v.schema === 'if-constraint') f.verdict.schema = v.schema;
      if (typeof v.ignoredFields === 'number' && v.ignoredFields > 0) f.verdict.ignoredFields = v.ignoredFields;
      if (Array.isArray(v.ignoredAmong) && v.ignoredAmong.length > 0 && v.ignoredAmong.every((x) => typeof x === 'string')) f.verdict.ignoredAmong = v.ignoredAmong;
      if (v.ignoredWhen === 'start' || v.ignoredWhen === 'change') f.verdict.ignoredWhen = v.ignoredWhen;
      const stranded = Array.isArray(v.strandedRoutes) ? v.strandedRoutes.filter((x): x is { file: string; clusters: string[]; unchecked?: unknown } => isObject(x) && typeof x.file === 'string' && Array.isArray(x.clusters) && x.clusters.every((c) => typeof c === 'string')) : [];
      if (stranded.length > 0) f.verdict.strandedRoutes = stranded.map((x) => ({ file: x.file, clusters: [...x.clusters], ...(x.unchecked === true ? { unchecked: true as const } : {}) }));
    }
    files.push(f);
  }
  const adminProblem = str(doc.adminProblem);
  return {
    targetDir: str(doc.targetDir) ?? '',
    ...(adminProblem === undefined ? {} : { adminProblem }),
    watcherPid: typeof doc.watcherPid === 'number' ? doc.watcherPid : 0,
    ...(typeof doc.watcherRunning === 'boolean' ? { watcherRunning: doc.watcherRunning } : {}),
    updatedAt: str(doc.updatedAt) ?? '',
    files,
  };
}

/** `envoy.runs` of a Pod-local file (status-applied.ts RunsOfRefused), field by field; undefined when absent or not of that shape. */
function runsOf(raw: unknown): RunsOfRefused | undefined {
  if (!isObject(raw) || (raw.noun !== 'listener' && raw.noun !== 'cluster') || !Array.isArray(raw.fromThis)) return undefined;
  const fromThis = raw.fromThis.filter((name): name is string => typeof name === 'string');
  if (fromThis.length === 0) return undefined;
  return { noun: raw.noun, total: typeof raw.total === 'number' ? raw.total : undefined, fromThis };
}
