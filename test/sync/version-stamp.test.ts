import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { load } from 'js-yaml';
import { contentVersion, sha256, stampVersion, versionOf, withoutInsertedStamp } from '../../src/sync/envoy/version-stamp.js';

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
  const given = stamp('lds.yaml', `\uFEFFversion_info: v\n${LDS}`);
  assert.equal(given.version, `v+${given.expected}`);
  assert.equal(given.text, `\uFEFFversion_info: "v+${given.expected}"\n${LDS}`);
});

test('a version_info the user wrote stays visible, with the content digest after it: each content its own version', () => {
  // The user's value as Envoy reads it (yaml-cpp: plain dates and decimals as written), then `+sha256:...`.
  for (const [line, user, written] of [
    ['version_info: "v-7"', 'v-7', ''],
    ["version_info: 'x y' # note", 'x y', ' # note'],
    ['version_info: plain', 'plain', ''],
    ['version_info: 2024-05-02 # release', '2024-05-02', ' # release'],
    ['version_info: 1.20', '1.20', ''],
    ['"version_info": "q"', 'q', ''],
    ['version_info: "0"', '0', ''],
  ] as const) {
    const text = `${line}\n${LDS}`;
    const out = stamp('lds.yaml', text);
    const key = line.slice(0, line.indexOf(':') + 1);
    assert.equal(out.version, `${user}+${out.expected}`, line);
    assert.equal(out.text, `${key} "${user}+${out.expected}"${written}\n${LDS}`, line);
    assert.equal(out.userVersion, true);
    assert.equal((load(out.text) as { version_info: string }).version_info, out.version);
    assert.equal(versionOf('lds.yaml', out.content), out.version);
  }
  // Two contents with the same `version_info: "0"` get two versions.
  assert.notEqual(stamp('lds.yaml', `version_info: "0"\n${LDS}`).version, stamp('lds.yaml', `version_info: "0"\n${LDS}# edited\n`).version);
  // Stamping what was published (the last-accepted store's copy) changes nothing.
  const once = stamp('lds.yaml', `version_info: "0"\n${LDS}`);
  const twice = stamp('lds.yaml', once.text);
  assert.equal(twice.text, once.text);
  assert.equal(twice.version, once.version);
  const inserted = stamp('lds.yaml', LDS);
  assert.equal(stamp('lds.yaml', inserted.text).version, inserted.version);
  // An empty version is no version: the digest alone.
  const empty = stamp('lds.yaml', `version_info: ~\n${LDS}`);
  assert.equal(empty.version, empty.expected);
});

test('a version_info Envoy refuses (a bool or an int32) is left as written: Envoy refuses the file', () => {
  for (const line of ['version_info: 3', 'version_info: yes', 'version_info: 0x1F']) {
    const text = `${line}\n${LDS}`;
    const out = stamp('lds.yaml', text);
    assert.equal(out.text, text, line);
    assert.equal(out.version, undefined, line);
    assert.equal(versionOf('lds.yaml', out.content), undefined, line);
  }
  const number = stamp('cds.json', '{"version_info": 3, "resources": []}');
  assert.equal(number.version, undefined);
  assert.equal(number.text, '{"version_info": 3, "resources": []}');
});

test('JSON (also JSON text in a .yaml file) gets "version_info" after its opening brace', () => {
  const json = '{\n  "resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c"}]\n}\n';
  for (const name of ['cds.json', 'cds.yaml']) {
    const out = stamp(name, json);
    assert.equal(out.text, `{"version_info":"${out.expected}",${json.slice(1)}`);
    assert.equal((JSON.parse(out.text) as { version_info: string }).version_info, out.expected);
  }
  const given = stamp('cds.json', '{"version_info": "7", "resources": []}');
  assert.equal(given.version, `7+${given.expected}`);
  assert.equal(given.text, `{"version_info": "7+${given.expected}", "resources": []}`);
  assert.equal(given.userVersion, true);
  assert.equal(versionOf('cds.json', given.content), given.version);
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

test('withoutInsertedStamp gives back the key\'s text where the stamp added a line (LF, CRLF, after comments and ---), and leaves a stamp written in place alone', () => {
  for (const text of ['resources: []\n', '# c\n---\nresources:\n- a: 1\n', 'resources: []\r\nx: 1\r\n']) {
    const stamped = stampVersion('lds.yaml', Buffer.from(text), sha256(Buffer.from(text))).content.toString();
    assert.notEqual(stamped, text);
    const back = withoutInsertedStamp(stamped);
    assert.equal(back.text, text);
    assert.equal(back.removedLine, stamped.split('\n').findIndex((l) => l.startsWith('version_info:')) + 1);
  }
  const user = 'version_info: "7"\nresources: []\n';
  const inPlace = stampVersion('lds.yaml', Buffer.from(user), sha256(Buffer.from(user))).content.toString();
  assert.deepEqual(withoutInsertedStamp(inPlace), { text: inPlace });
});
