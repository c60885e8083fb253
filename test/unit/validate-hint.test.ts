// The `validate` the watcher's messages suggest checks the ConfigMap's own files (a refusal's: the
// refused version kept, refused/<file>, as the key may hold a newer one by then): the lines it
// prints are those of the operator's keys, not of the published copy, which carries one more line
// when the watcher added a `version_info` (src/sync/envoy/version-stamp.ts; validate leaves it out
// of a copy kept under the state directory). Run on the shared
// case envoy-ignores-unknown-field.lds.yaml without its version_info line (a file as Envoy's quick
// start writes them), in a directory laid out as the kubelet writes a ConfigMap volume.
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { runValidate } from '../../src/cli/validate.js';
import type { CliContext } from '../../src/cli/context.js';
import { loadEnvoySchema, type EnvoySchema } from '../../src/schema/index.js';
import { publishable } from '../../src/sync/envoy/version-stamp.js';
import { configMapValidateHint, refusedValidateHint, sourceValidateHint } from '../../src/sync/verdict/validate-hint.js';
import { refusedPath } from '../../src/sync/verdict/state.js';
import { refusedKey } from '../../src/sync/verdict/refused-versions.js';
import { repoRoot } from '../sync/harness.js';

let schema: EnvoySchema;
let dir: string;
let userText: string;
before(async () => {
  schema = loadEnvoySchema();
  dir = await mkdtemp(join(tmpdir(), 'validate-hint-'));
  const text = await readFile(join(repoRoot, 'test/fixtures/cases/envoy-ignores-unknown-field.lds.yaml'), 'utf8');
  userText = text.replace(/^version_info: .*\n/m, '');
});
after(() => rm(dir, { recursive: true, force: true }));

async function validate(args: string[], stdin = ''): Promise<string> {
  const stderr = new PassThrough();
  const err: string[] = [];
  stderr.on('data', (chunk: Buffer) => err.push(chunk.toString()));
  const ctx: CliContext = { stdin: Readable.from([stdin]), stdout: new PassThrough(), stderr, env: {}, logger: pino({ level: 'silent' }), version: 'test', shutdownSignal: new AbortController().signal };
  await runValidate(args, ctx, () => schema);
  return err.join('');
}

/** Line:column of each unknown field `validate` reports, in order. */
const positions = (stderr: string): string[] => [...stderr.matchAll(/:(\d+:\d+): warning: .*unknown field/g)].map((m) => m[1] ?? '');

/** The lines of `userText` that hold the two misspelt fields: what the operator sees in their file. */
function userLines(): string[] {
  const lines = userText.split('\n');
  return ['per_connection_buffer_limit_bytez', 'stream_idle_timeoutt'].map((field) => {
    const at = lines.findIndex((line) => line.includes(`${field}:`));
    return `${String(at + 1)}:${String((lines[at] ?? '').indexOf(field) + 1)}`;
  });
}

/** A ConfigMap volume as the kubelet writes it: keys are links into ..data, a link to a timestamped directory. */
async function kubeletVolume(files: Record<string, string>): Promise<string> {
  const volume = join(dir, 'volume');
  await mkdir(join(volume, '..2026_12_03_12_00_00.000000001'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(volume, '..2026_12_03_12_00_00.000000001', name), text);
  await symlink('..2026_12_03_12_00_00.000000001', join(volume, '..data'));
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(volume, name));
  return volume;
}

test('the suggested validate reads the ConfigMap volume, not the stamped copy: the lines are those of the user\'s key; the directory form follows the volume\'s links', async () => {
  const volume = await kubeletVolume({ 'lds.yaml': userText });
  const target = join(dir, 'target');
  await mkdir(target);
  const published = publishable('lds.yaml', Buffer.from(userText));
  await writeFile(join(target, 'lds.yaml'), published.content);
  const want = userLines();
  // Why: the watcher added a version_info line, so the published copy's lines are one below.
  assert.notDeepEqual(positions(await validate([join(target, 'lds.yaml')])), want, 'the published copy is shifted');

  const hint = sourceValidateHint('envoy-xds-injector', volume);
  const forFile = hint('lds.yaml');
  assert.equal(forFile, `envoy-xds-injector validate ${join(volume, 'lds.yaml')}`);
  assert.deepEqual(positions(await validate(forFile.split(' ').slice(2))), want);
  // All files at once (fields counted while Envoy loaded several): the volume's keys, each once.
  const forAll = hint();
  assert.equal(forAll, `envoy-xds-injector validate ${volume}`);
  const all = await validate(forAll.split(' ').slice(2));
  assert.deepEqual(positions(all), want, all);
  assert.match(all, new RegExp(`${join(volume, 'lds.yaml').replace(/[.]/g, '\\.')}:`));
});

test('with the ConfigMap from the API: kubectl get configmap piped into validate -f -, findings at the key\'s own lines', async () => {
  const hint = configMapValidateHint('kubectl exec -i -n shop envoy-a -c envoy-xds-watch -- envoy-xds-injector', 'shop', 'envoy-xds');
  assert.equal(hint('lds.yaml'), 'kubectl get configmap envoy-xds -n shop -o yaml | kubectl exec -i -n shop envoy-a -c envoy-xds-watch -- envoy-xds-injector validate -f -');
  assert.equal(hint(), hint('lds.yaml'));
  // What kubectl get -o yaml prints for it, read as the hint's `validate -f -` reads it.
  const manifest = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'envoy-xds', namespace: 'shop' }, data: { 'lds.yaml': userText } });
  const stderr = await validate(['-f', '-'], manifest);
  assert.deepEqual(positions(stderr), userLines());
  assert.match(stderr, /^ConfigMap\/shop\/envoy-xds\/lds\.yaml:/m);
});

test("a refusal's validate reads the refused version kept under the state directory (the published copy), and prints the lines of the user's key: the version_info line the watcher added is left out", async () => {
  const target = join(dir, 'refused-target');
  await mkdir(join(target, '..envoy-xds-verdict', 'refused'), { recursive: true });
  const published = publishable('lds.yaml', Buffer.from(userText));
  assert.equal(published.content.toString().split('\n').length, userText.split('\n').length + 1, 'the watcher added a line');
  await writeFile(refusedPath(target, 'lds.yaml'), published.content);
  const hint = refusedValidateHint('envoy-xds-injector', target)('lds.yaml');
  assert.equal(hint, `envoy-xds-injector validate ${refusedPath(target, 'lds.yaml')}`);
  const stderr = await validate(hint.split(' ').slice(2));
  assert.deepEqual(positions(stderr), userLines(), stderr);
  // A refusal's line names the copy of exactly the content it refused (refused/..sha256-<key>/<file>): read the same way.
  const key = refusedKey(published.version, published.sha256) ?? '';
  const exact = refusedValidateHint('envoy-xds-injector', target)('lds.yaml', key);
  const exactPath = join(target, '..envoy-xds-verdict', 'refused', `..sha256-${key}`, 'lds.yaml');
  assert.equal(exact, `envoy-xds-injector validate ${exactPath}`);
  await mkdir(join(exactPath, '..'), { recursive: true });
  await writeFile(exactPath, published.content);
  const exactErr = await validate(exact.split(' ').slice(2));
  assert.deepEqual(positions(exactErr), userLines(), exactErr);
  assert.match(exactErr, new RegExp(`^${exactPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`, 'm'), 'findings name the copy, ending in the key');
  // The same bytes anywhere else are read as they are: a file the user wrote so keeps its own lines.
  const elsewhere = join(dir, 'elsewhere.lds.yaml');
  await writeFile(elsewhere, published.content);
  const lines = published.content.toString().split('\n');
  const copyLines = ['per_connection_buffer_limit_bytez', 'stream_idle_timeoutt'].map((field) => {
    const at = lines.findIndex((line) => line.includes(`${field}:`));
    return `${String(at + 1)}:${String((lines[at] ?? '').indexOf(field) + 1)}`;
  });
  assert.deepEqual(positions(await validate([elsewhere])), copyLines);
  assert.notDeepEqual(copyLines, userLines());
});
