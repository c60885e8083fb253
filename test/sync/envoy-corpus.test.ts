// Envoy is the oracle for the gate: every file of test/fixtures/envoy-corpus is loaded by real
// Envoy 1.40 to learn its verdict, and the gate must never refuse a file Envoy accepts.
import { strict as assert } from 'node:assert';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { validateConfigFile } from '../../src/sync/envoy/gate.js';
import { envoyVerdicts, type EnvoyVerdict } from '../envoy/oracle.js';
import { repoRoot } from './harness.js';

const CORPUS = join(repoRoot, 'test/fixtures/envoy-corpus');
let files: { name: string; content: Buffer }[];
let verdicts: Map<string, EnvoyVerdict>;

before(async () => {
  // sequences/: multi-file setups with edit sequences (test/envoy/verdict-sequences.test.ts).
  const names = (await readdir(CORPUS)).filter((name) => name !== 'README.md' && name !== 'sequences').sort();
  files = await Promise.all(names.map(async (name) => ({ name, content: await readFile(join(CORPUS, name)) })));
  verdicts = await envoyVerdicts(files);
});

test('every corpus file says what it exercises (its first comment, or the corpus README)', async () => {
  const readme = await readFile(join(CORPUS, 'README.md'), 'utf8');
  for (const { name, content } of files) {
    assert.match(name, /^(accepts|refuses)\.[a-z0-9-]+\.lds\.(yaml|yml|json)$/, name);
    const text = content.toString('utf8').replace(/^\uFEFF/, '');
    assert.ok(text.startsWith('# ') || readme.includes(`| ${name} |`), `${name}: no comment and no README row`);
  }
});

test("Envoy's verdict on each corpus file is the one its name records", () => {
  const wrong = files
    .map(({ name }) => ({ name, verdict: verdicts.get(name) }))
    .filter(({ name, verdict }) => name.startsWith('accepts.') !== (verdict === 'accepted'));
  assert.deepEqual(wrong, [], 'Envoy 1.40 read these differently from what their names say');
});

test('the gate never refuses a file Envoy accepts', async () => {
  const refused: string[] = [];
  for (const { name, content } of files) {
    if (verdicts.get(name) !== 'accepted') continue;
    const validation = await validateConfigFile(name, content);
    if (!validation.ok) refused.push(`${name}: ${validation.error.message}`);
  }
  assert.deepEqual(refused, []);
});

test('the gate still refuses, with a line, the files Envoy certainly refuses', async () => {
  const certain: Record<string, RegExp> = {
    'refuses.empty.lds.yaml': /empty/,
    'refuses.empty.lds.json': /empty/,
    'refuses.not-yaml.lds.yaml': /invalid YAML/,
    'refuses.not-json.lds.json': /invalid JSON/,
    'refuses.resource-without-type.lds.yaml': /resources\[0\] has no "@type"/,
    'refuses.resource-without-type.lds.json': /resources\[0\] has no "@type"/,
  };
  for (const [name, message] of Object.entries(certain)) {
    assert.notEqual(verdicts.get(name), 'accepted', `${name}: Envoy accepted it`);
    const content = files.find((file) => file.name === name)?.content;
    assert.ok(content, name);
    const validation = await validateConfigFile(name, content);
    if (validation.ok) assert.fail(`${name}: the gate let it through`);
    assert.match(validation.error.message, message, name);
    if (content.length > 0) assert.equal(typeof validation.error.line, 'number', `${name}: no line`);
  }
});
