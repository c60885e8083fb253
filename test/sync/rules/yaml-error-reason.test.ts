// yamlErrorReason: js-yaml's reason, and the cause in words where a plain key or value starts with a
// character YAML reserves (yaml-cpp refuses these too: "unknown token").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { YAMLException, load } from 'js-yaml';
import { yamlErrorReason } from '../../../src/sync/envoy/yaml.js';

const reasonOf = (text: string): string => {
  try {
    load(text);
  } catch (err) {
    if (err instanceof YAMLException) return yamlErrorReason(err, text);
    throw err;
  }
  throw new Error(`parsed: ${text}`);
};
const HINT = '(a plain key or value cannot start with @ or `: quote it, as in "@type")';

test('an unquoted @type or backtick gets the cause; other refusals keep js-yaml reason alone', () => {
  const table: { text: string; hint: boolean }[] = [
    { text: 'resources:\n- @type: type.googleapis.com/x\n  name: a\n', hint: true },
    { text: 'resources:\n- name: a\n  @type: x\n', hint: true },
    { text: 'resources: [{@type: x, name: a}]\n', hint: true },
    { text: 'resources:\n- "@type": x\n  name: `a`\n', hint: true },
    { text: 'resources:\n- "@type": x\n   name: a\n', hint: false }, // bad indentation, nothing reserved
    { text: 'resources:\n- "@type": "x\n', hint: false },
    { text: 'a: "@x" b\n', hint: false }, // the @ is quoted
  ];
  for (const { text, hint } of table) assert.equal(reasonOf(text).endsWith(HINT), hint, text);
});
