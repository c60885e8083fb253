// The schema check's findings do not change by accident: for every input recorded in
// schema-findings.digests.json (a digest of the input's text and options -> a digest of its
// findings), the check gives the findings it gave when recorded. The inputs: the files the oracle
// test runs (Envoy corpus, schema fixtures, shared cases), each also as a bootstrap, seeded
// mutations of each (values, keys, lines replaced; the tree re-emitted in block, flow and JSON
// style), and the 1 MiB CDS file of npm run bench:validate with and without faults. A change meant
// to keep every finding (a faster walk, a new reader) must pass as it is; a change meant to alter
// findings records the new digests: UPDATE_SCHEMA_FINDINGS=1 node --import tsx --test test/unit/schema-findings.test.ts
// Inputs are keyed by content, so added or edited fixtures are simply not compared until recorded.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { dump, FAILSAFE_SCHEMA, load } from 'js-yaml';
import { checkFile, loadEnvoySchema } from '../../src/schema/index.js';
import { repoRoot } from '../sync/harness.js';

const DIGESTS = join(repoRoot, 'test/unit/schema-findings.digests.json');
const DIRS = ['test/fixtures/envoy-corpus', 'test/fixtures/schema', 'test/fixtures/cases'];
const VARIANTS = 6;

/** mulberry32: a small seeded generator, so the mutations are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCALARS = ['yes', 'No', 'ON', 'off', 'y', 'N', 'True', 'tRue', '0x1F', '0755', '+5', '-0', '1e3', '2147483648', '9223372036854775808', '4294967296', '~', "''", '-1', '0', '1.5s', '-1s', '0s', '99999999999s', 'UNKNOWN_VALUE', 'abc', '65536', '[]', '{}', '[1, 2]', '{a: 1}', '!ignore x', '!!str 5', "'0x1F'", '"yes"', 'ROUND_ROBIN', 'STRICT_DNS'];
const KEYS = ['name', 'nmae', 'statPrefix', 'stat_prefix', 'typed_config', 'connect_timeout', 'connectTimeout', '"@type"', 'value', 'port_value', 'address', 'cluster', 'prefix', 'route', 'domains', 'use_original_dst', 'per_connection_buffer_limit_bytes', 'lb_policy', 'foo'];
const VALUES: unknown[] = [-1, 0, 4294967296, 'abc', '', true, null, [], {}, '1.5s', '-1s', 'UNKNOWN_VALUE', '0x1F', 1.5, [1], { a: 1 }, { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1s' }, { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', x: 1 }, { '@type': 'type.googleapis.com/envoy.nope.v3.Nope' }, { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Clustr' }, 'ROUND_ROBIN'];

const pick = <T>(random: () => number, list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

/** One to three line edits: a value or a key replaced, a line dropped or doubled. */
function mutateText(text: string, random: () => number): string {
  const lines = text.split('\n');
  for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
    const at = Math.floor(random() * lines.length);
    const line = lines[at] ?? '';
    const choice = random();
    if (choice < 0.5) {
      const m = /^(\s*(?:- )?[^:#'"{}[\],]+:\s+)(\S.*)$/.exec(line) ?? /^(\s*- )(\S.*)$/.exec(line);
      if (m) lines[at] = `${m[1] ?? ''}${pick(random, SCALARS)}`;
    } else if (choice < 0.8) {
      const m = /^(\s*(?:- )?)([A-Za-z_"@][^:]*)(:.*)$/.exec(line);
      if (m) lines[at] = `${m[1] ?? ''}${pick(random, KEYS)}${m[3] ?? ''}`;
    } else if (choice < 0.9) lines.splice(at, 1);
    else lines.splice(at, 0, line);
  }
  return lines.join('\n');
}

type Tree = Record<string, unknown> | unknown[];
const isTree = (value: unknown): value is Tree => typeof value === 'object' && value !== null;

function paths(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (path.length > 0) out.push(path);
  if (Array.isArray(value)) value.forEach((item, index) => paths(item, [...path, index], out));
  else if (isTree(value)) for (const [key, item] of Object.entries(value)) paths(item, [...path, key], out);
  return out;
}

/** One to three edits of the parsed tree: a value replaced, a key renamed, removed, or camelCased beside itself. */
function mutateTree(tree: Tree, random: () => number): Tree {
  const copy = structuredClone(tree);
  for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
    const all = paths(copy);
    if (all.length === 0) break;
    const path = pick(random, all);
    let parent: unknown = copy;
    for (const step of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[step];
    const key = path.at(-1);
    if (!isTree(parent) || key === undefined) continue;
    const record = parent as Record<string | number, unknown>;
    const choice = random();
    if (choice < 0.45) record[key] = structuredClone(pick(random, VALUES));
    else if (choice < 0.6 && !Array.isArray(parent)) {
      const value = record[key];
      Reflect.deleteProperty(record, key);
      record[pick(random, KEYS).replace(/"/g, '')] = value;
    } else if (choice < 0.75) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else Reflect.deleteProperty(record, key);
    } else if (choice < 0.9 && !Array.isArray(parent)) record[String(key).replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = structuredClone(record[key]);
    else record[key] = [structuredClone(record[key])];
  }
  return copy;
}

/** Flow style with plain scalars where YAML allows them (so `yes`, `0x1F` are read as yaml-cpp reads them). */
function flow(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  if (isTree(value)) return `{${Object.entries(value).map(([k, v]) => `${/^[A-Za-z0-9_./-]+$/.test(k) ? k : JSON.stringify(k)}: ${flow(v)}`).join(', ')}}`;
  if (typeof value === 'string') return /^[A-Za-z0-9_./+-]+$/.test(value) ? value : JSON.stringify(value);
  return String(value);
}

/** The bench's 1 MiB CDS file (bench/validate.ts): `count` STRICT_DNS clusters. */
function clusters(count: number): string {
  const lines = ['version_info: "bench"', 'resources:'];
  for (let i = 0; i < count; i++) {
    lines.push(
      `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster`, `  name: service_${i}`, `  type: STRICT_DNS`, `  connect_timeout: 0.25s`, `  lb_policy: ROUND_ROBIN`, `  dns_lookup_family: V4_ONLY`,
      `  health_checks: [{timeout: 1s, interval: 5s, unhealthy_threshold: 3, healthy_threshold: 2, http_health_check: {path: /healthz}}]`,
      `  load_assignment:`, `    cluster_name: service_${i}`, `    endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: service-${i}.shop.svc.cluster.local, port_value: 8080}}}}]}]`,
    );
  }
  return `${lines.join('\n')}\n`;
}

interface Input {
  name: string;
  file: string;
  text: string;
  bootstrap: boolean;
}

function inputs(): Input[] {
  const random = seeded(19);
  const out: Input[] = [];
  for (const dir of DIRS) {
    for (const file of readdirSync(join(repoRoot, dir)).filter((n) => /\.(ya?ml|json)$/.test(n)).sort()) {
      const text = readFileSync(join(repoRoot, dir, file), 'utf8');
      out.push({ name: file, file, text, bootstrap: false }, { name: `${file} as bootstrap`, file, text, bootstrap: true });
      const yamlName = file.replace(/\.json$/, '.yaml');
      for (let v = 0; v < VARIANTS; v++) out.push({ name: `${file} line edits ${v}`, file: yamlName, text: mutateText(text, random), bootstrap: false });
      let tree: unknown;
      try {
        tree = load(text, { schema: FAILSAFE_SCHEMA, json: true });
      } catch {
        continue;
      }
      if (!isTree(tree)) continue;
      for (let v = 0; v < VARIANTS; v++) {
        const mutated = mutateTree(tree, random);
        const style = v % 3;
        const emitted = style === 0 ? dump(mutated, { noRefs: true }) : style === 1 ? flow(mutated) : JSON.stringify(mutated, null, 1);
        out.push({ name: `${file} tree edits ${v}`, file: style === 2 ? file.replace(/\.ya?ml$/, '.json') : yamlName, text: emitted, bootstrap: random() < 0.15 });
      }
    }
  }
  const cds = clusters(2000);
  out.push({ name: 'bench 1 MiB CDS', file: 'cds.yaml', text: cds, bootstrap: false });
  out.push({ name: 'bench 1 MiB CDS with faults', file: 'cds.yaml', text: cds.replace('connect_timeout: 0.25s', 'connect_timeout: -1s').replace('port_value: 8080', 'port_value: 99999').replace('lb_policy: ROUND_ROBIN', 'lb_polcy: ROUND_ROBIN'), bootstrap: false });
  return out;
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

test('the schema check gives every recorded input the findings recorded for it', async () => {
  const schema = loadEnvoySchema();
  const recorded = JSON.parse(readFileSync(DIGESTS, 'utf8')) as Record<string, string>;
  const now: Record<string, string> = {};
  const changed: string[] = [];
  let compared = 0;
  for (const input of inputs()) {
    const key = digest(JSON.stringify([input.file, input.bootstrap, input.text]));
    const check = await checkFile(schema, input.file, input.text, { bootstrap: input.bootstrap });
    const findings = JSON.stringify(check);
    now[key] = digest(findings);
    const before = recorded[key];
    if (before === undefined) continue;
    compared++;
    if (before !== now[key]) changed.push(`${input.name}: now ${findings.slice(0, 400)}`);
  }
  if (process.env.UPDATE_SCHEMA_FINDINGS === '1') {
    writeFileSync(DIGESTS, `${JSON.stringify(now, Object.keys(now).sort(), 1)}\n`);
    return;
  }
  assert.deepEqual(changed, []);
  // The recorded inputs are still generated (the corpus did not drift away from the record).
  assert.ok(compared > Object.keys(recorded).length * 0.9, `compared ${compared} of ${Object.keys(recorded).length} recorded inputs`);
});
