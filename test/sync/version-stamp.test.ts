import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { load } from 'js-yaml';
import { contentVersion, sha256, stampVersion, versionOf } from '../../src/sync/envoy/version-stamp.js';

const stamp = (name: string, text: string) => {
  const source = Buffer.from(text);
  const result = stampVersion(name, source, sha256(source));
  return { ...result, text: result.content.toString('utf8'), expected: contentVersion(sha256(source)) };
};

const LDS = 'resources:\n- "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: l # comment\n';

test('block YAML without version_info gets one line on top; the rest is byte for byte the same', () => {
  const out = stamp('lds.yaml', LDS);
  assert.equal(out.text, `version_info: "${out.expected}"\n${LDS}`);
  assert.match(out.expected, /^sha256:[0-9a-f]{12}$/);
  assert.equal(out.userVersion, false);
  assert.equal(out.version, out.expected);
  assert.equal((load(out.text) as { version_info: string }).version_info, out.expected);
  assert.equal(versionOf('lds.yaml', out.content), out.expected);
});

test('the line goes after comments, directives, a BOM and the --- marker, with the file line ending', () => {
  const crlf = stamp('lds.yaml', `\uFEFF# head\r\n%YAML 1.2\r\n---\r\n${LDS.replace(/\n/g, '\r\n')}`);
  assert.equal(crlf.text, `\uFEFF# head\r\n%YAML 1.2\r\n---\r\nversion_info: "${crlf.expected}"\r\n${LDS.replace(/\n/g, '\r\n')}`);
  assert.equal((load(crlf.text.slice(1)) as { version_info: string }).version_info, crlf.expected);
});

test('a BOM right before the first key', () => {
  const out = stamp('lds.yaml', `\uFEFF${LDS}`);
  assert.equal(out.text, `\uFEFFversion_info: "${out.expected}"\n${LDS}`);
  assert.equal(stamp('lds.yaml', `\uFEFFversion_info: v\n${LDS}`).version, 'v');
});

test("a version_info the user wrote is kept and read as Envoy reads it", () => {
  for (const [line, version] of [
    ['version_info: "v-7"', 'v-7'],
    ["version_info: 'x y' # note", 'x y'],
    ['version_info: plain', 'plain'],
    ['"version_info": "q"', 'q'],
  ] as const) {
    const text = `${line}\n${LDS}`;
    const out = stamp('lds.yaml', text);
    assert.equal(out.text, text);
    assert.equal(out.version, version);
    assert.equal(out.userVersion, true);
  }
});

test('JSON (also JSON text in a .yaml file) gets "version_info" after its opening brace', () => {
  const json = '{\n  "resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c"}]\n}\n';
  for (const name of ['cds.json', 'cds.yaml']) {
    const out = stamp(name, json);
    assert.equal(out.text, `{"version_info":"${out.expected}",${json.slice(1)}`);
    assert.equal((JSON.parse(out.text) as { version_info: string }).version_info, out.expected);
  }
  const given = stamp('cds.json', '{"version_info": "7", "resources": []}');
  assert.equal(given.version, '7');
  assert.equal(given.userVersion, true);
});

test('files that are not xDS, or whose top level cannot be stamped by one line, are left alone', () => {
  for (const [name, text] of [
    ['script.lua', 'resources: 1\n'],
    ['envoy.yaml', 'node: {id: a}\nstatic_resources: {}\n'],
    ['flow.yaml', '{resources: [{"@type": x}]}\n'],
    ['indented.yaml', '  resources:\n  - a\n'],
    ['broken.json', '{"resources": ['],
    ['list.json', '[1, 2]'],
  ] as const) {
    const out = stamp(name, text);
    assert.equal(out.text, text, name);
    assert.equal(out.version, undefined, name);
  }
});
