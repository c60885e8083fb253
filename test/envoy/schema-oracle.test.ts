// Envoy is the oracle for the schema check (src/schema): every file of the Envoy corpus, the schema
// fixtures and the shared cases is loaded by real Envoy 1.40, and the check must never report an
// error on a file Envoy accepts, and must report one on every file Envoy refuses for a reason the
// schema can see. The files Envoy refuses for reasons no schema sees are named `refuses-unseen.*`
// (and listed below when they come from the gate's corpus); the check must stay silent on them.
// `refuses-newer.*`: an @type the schema's Envoy does not know; a warning by design (the Envoy that
// loads the file may be newer than the schema).
import { strict as assert } from 'node:assert';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { checkFile, loadEnvoySchema, type EnvoySchema, type FileCheck } from '../../src/schema/index.js';
import { repoRoot } from '../sync/harness.js';
import { envoyVerdicts, type EnvoyVerdict } from './oracle.js';

const DIRS = ['test/fixtures/envoy-corpus', 'test/fixtures/schema', 'test/fixtures/cases'];

/** Files Envoy refuses that the check does not call errors, and why (docs/validate.md lists them). */
const UNSEEN: Record<string, string> = {
  'refuses.nul-in-plain-scalar.lds.yaml': 'yaml-cpp refuses a NUL in a plain scalar; the check reads it as the gate does',
  'refuses.comments-only.lds.yaml': 'no document: not an xDS file (a warning)',
  'refuses.empty-document.lds.yaml': 'no document: not an xDS file (a warning)',
  'refuses.scalar.lds.yaml': 'a scalar: not an xDS file (a warning)',
  'refuses.top-level-list.lds.yaml': 'a list: not an xDS file (a warning)',
};

let schema: EnvoySchema;
let files: { name: string; content: Buffer; check: FileCheck; strict: FileCheck }[];
let verdicts: Map<string, EnvoyVerdict>;
/** Envoy started with --reject-unknown-dynamic-fields: the Envoy `validate --strict` checks for. */
let strictVerdicts: Map<string, EnvoyVerdict>;

before(async () => {
  schema = loadEnvoySchema();
  files = [];
  for (const dir of DIRS) {
    for (const name of (await readdir(join(repoRoot, dir))).filter((n) => /\.(ya?ml|json)$/.test(n)).sort()) {
      const content = await readFile(join(repoRoot, dir, name));
      files.push({ name, content, check: await checkFile(schema, name, content), strict: await checkFile(schema, name, content, { rejectUnknownDynamicFields: true }) });
    }
  }
  verdicts = await envoyVerdicts(files);
  strictVerdicts = await envoyVerdicts(files, ['--reject-unknown-dynamic-fields']);
});

const errors = (check: FileCheck): string[] => check.findings.filter((f) => f.severity === 'error').map((f) => `${f.line ?? '?'}:${f.path ?? ''}: ${f.message}`);

test('the check reports no error on a file Envoy 1.40 accepts', () => {
  const wrong = files.filter(({ name }) => verdicts.get(name) === 'accepted').map(({ name, check }) => ({ name, errors: errors(check) })).filter(({ errors }) => errors.length > 0);
  assert.deepEqual(wrong, []);
});

test('the check reports an error on every file Envoy 1.40 refuses for a schema reason', () => {
  const missed = files
    .filter(({ name }) => verdicts.get(name) !== 'accepted' && !/^refuses-(unseen|newer)\./.test(name) && !(name in UNSEEN))
    .filter(({ check }) => errors(check).length === 0)
    .map(({ name, check }) => ({ name, verdict: verdicts.get(name), findings: check.findings.map((f) => f.message) }));
  assert.deepEqual(missed, []);
});

test('--strict (rejectUnknownDynamicFields) against Envoy 1.40 started with --reject-unknown-dynamic-fields: no error where it accepts, an error where it refuses for a schema reason, and the files only the flag refuses are those with unknown fields or enum values', () => {
  const wrong = files.filter(({ name }) => strictVerdicts.get(name) === 'accepted').map(({ name, strict }) => ({ name, errors: errors(strict) })).filter(({ errors }) => errors.length > 0);
  assert.deepEqual(wrong, []);
  const missed = files
    .filter(({ name }) => strictVerdicts.get(name) !== 'accepted' && !/^refuses-(unseen|newer)\./.test(name) && !(name in UNSEEN))
    .filter(({ strict }) => errors(strict).length === 0)
    .map(({ name, strict }) => ({ name, verdict: strictVerdicts.get(name), findings: strict.findings.map((f) => f.message) }));
  assert.deepEqual(missed, []);
  const byFlag = files.filter(({ name }) => verdicts.get(name) === 'accepted' && strictVerdicts.get(name) !== 'accepted');
  assert.ok(byFlag.some(({ name }) => name === 'envoy-ignores-unknown-field.lds.yaml') && byFlag.some(({ name }) => name === 'accepts.unknown-enum-value.lds.yaml'), byFlag.map(({ name }) => name).join(', '));
  for (const { name, strict } of byFlag) {
    assert.ok(errors(strict).length > 0 && errors(strict).every((e) => e.endsWith(': Envoy started with --reject-unknown-dynamic-fields refuses the file') || e.includes(' refuses the file (values: ')), `${name}: ${errors(strict).join('; ')}`);
  }
  // A deprecated field: that Envoy still loads it, and --strict keeps it a warning.
  assert.equal(strictVerdicts.get('accepts.deprecated-field.lds.yaml'), 'accepted');
});

test('refuses-unseen files: Envoy refuses them, no schema sees why, the check stays silent', () => {
  const unseen = files.filter(({ name }) => name.startsWith('refuses-unseen.') || name in UNSEEN);
  assert.ok(unseen.length >= 7);
  for (const { name, check } of unseen) {
    assert.notEqual(verdicts.get(name), 'accepted', `${name}: Envoy accepted it`);
    assert.deepEqual(errors(check), [], name);
  }
});

test('the schema fixtures name what Envoy does with them, and the finding the check gives', async () => {
  for (const { name, check } of files.filter(({ name }) => !name.startsWith('refuses-unseen.'))) {
    const expect = /^# expect: (error|warning|clean)(?: (\S+))?$/m.exec(await readFile(join(repoRoot, 'test/fixtures/schema', name), 'utf8').catch(() => ''));
    if (!expect) continue;
    assert.equal(name.startsWith('accepts.'), verdicts.get(name) === 'accepted', `${name}: Envoy's verdict is ${String(verdicts.get(name))}`);
    if (expect[1] === 'clean') assert.deepEqual(check.findings, [], name);
    else assert.ok(check.findings.some((f) => f.severity === expect[1] && f.path === expect[2] && typeof f.line === 'number'), `${name}: no ${expect[1]} at ${expect[2]}: ${JSON.stringify(check.findings)}`);
  }
});

test('refuses-newer files: Envoy 1.40 refuses them; the check warns naming the schema version, no error', () => {
  const newer = files.filter(({ name }) => name.startsWith('refuses-newer.'));
  assert.ok(newer.length >= 1);
  for (const { name, check } of newer) {
    assert.notEqual(verdicts.get(name), 'accepted', name);
    assert.deepEqual(errors(check), [], name);
    assert.ok(check.findings.some((f) => f.severity === 'warning' && f.message.includes(`Envoy ${schema.envoyVersion}`)), name);
  }
});

test('envoy-ignores-unknown-field.lds.yaml (a shared case): Envoy loads it; two warnings, at lines 9 and 16', () => {
  const file = files.find(({ name }) => name === 'envoy-ignores-unknown-field.lds.yaml');
  assert.ok(file);
  assert.equal(verdicts.get(file.name), 'accepted');
  assert.deepEqual(
    file.check.findings.map((f) => [f.severity, f.line, f.column, f.path]),
    [
      ['warning', 9, 3, 'resources[0].per_connection_buffer_limit_bytez'],
      ['warning', 16, 9, 'resources[0].filter_chains[0].filters[0].typed_config.stream_idle_timeoutt'],
    ],
  );
});
