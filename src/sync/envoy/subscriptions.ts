// Where Envoy's admin API listens (the bootstrap's `admin.address`, or `--admin`), and how the
// watcher reads Envoy's configuration files. The files a configuration names are in
// references.ts; which of Envoy's subscriptions read them is read from Envoy (verdict/attribution.ts).
import { FAILSAFE_SCHEMA, Type, load } from 'js-yaml';
import type { AdminAddress } from './admin-address.js';
import { envoyPlainValue } from './yaml-scalar.js';

// `--admin`'s parser lives in admin-address.ts, which imports nothing: the injector's rules
// validate the `admin` annotation with it too.
export { type AdminAddress, describeAdmin, parseAdminAddress } from './admin-address.js';

export type XdsType = 'LDS' | 'CDS' | 'RDS' | 'EDS' | 'SDS' | 'ECDS' | 'SRDS' | 'RTDS';

export interface BootstrapInfo {
  /** Envoy's admin listener, when the bootstrap names one the watcher can reach. */
  admin: AdminAddress | undefined;
  /** Why `admin` is undefined (no `admin`, port 0, ...). */
  adminProblem?: string;
}

// Envoy's YAML loader takes any local tag (`!ignore` in its docs) and keeps the value; so do we,
// here only to find paths and to compare resources as Envoy would (never to judge a file: the gate
// does that). A plain scalar is read as Envoy reads it (yaml-scalar.ts envoyPlainValue: `060` is
// 48, `08` and `1e3` stay text, `yes` is true), a quoted one stays text; no merge keys, no
// timestamps (yaml-cpp has neither).
const anyTag = (kind: 'scalar' | 'sequence' | 'mapping'): Type => new Type('!', { kind, multi: true, construct: (data: unknown) => data });
// The plain scalars Envoy does not keep as text: null, a bool, an int64.
const plainAsEnvoy = new Type('tag:envoy-xds-injector.io,2026:plain', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data !== 'string' || envoyPlainValue(data) !== data,
  construct: (data: unknown) => (typeof data === 'string' ? envoyPlainValue(data) : null),
});
const TOLERANT = FAILSAFE_SCHEMA.extend({ implicit: [plainAsEnvoy], explicit: [anyTag('scalar'), anyTag('sequence'), anyTag('mapping')] });

/** Parses a YAML/JSON file as Envoy would read it; undefined when it does not parse. */
export function parseConfig(content: Buffer | string): unknown {
  const text = (typeof content === 'string' ? content : content.toString('utf8')).replace(/^\uFEFF/, '');
  try {
    return load(text, { schema: TOLERANT, json: true });
  } catch {
    return undefined;
  }
}

/** Reads `admin.address` of a Bootstrap (envoy.config.bootstrap.v3); the files it names: envoy/references.ts. */
export function bootstrapInfo(bootstrap: unknown): BootstrapInfo {
  const address = get(bootstrap, 'admin', 'address');
  if (address === undefined) return { admin: undefined, adminProblem: 'the bootstrap has no admin address' };
  const pipe = get(address, 'pipe', 'path');
  if (typeof pipe === 'string') return { admin: { socketPath: pipe } };
  const host = get(address, 'socket_address', 'address');
  const port = Number(get(address, 'socket_address', 'port_value') ?? 0);
  if (typeof host !== 'string' || !Number.isInteger(port) || port <= 0) {
    return { admin: undefined, adminProblem: 'the bootstrap admin address has no fixed port (port 0 or a named port)' };
  }
  // A wildcard listener is reachable on loopback from the watcher (same Pod network namespace).
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return { admin: { host: reachable, port } };
}

function get(node: unknown, ...keys: string[]): unknown {
  let current = node;
  for (const key of keys) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
