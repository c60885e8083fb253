// The pure parts of src/schema, table-tested: yaml-cpp's scalar conversion (what Envoy's YAML reader
// turns a plain scalar into) and the protoc-gen-validate rule evaluator.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { envoyJson, yamlCppBool, yamlCppInteger } from '../../src/schema/envoy-json.js';
import { checkDuration, checkNumber, checkString, runeCount } from '../../src/schema/pgv.js';
import { formatPath } from '../../src/schema/findings.js';

test("yaml-cpp's convert<bool>: y/yes/true/on and n/no/false/off in lower, UPPER or Capitalised case only", () => {
  for (const [text, value] of [['yes', true], ['Yes', true], ['YES', true], ['on', true], ['y', true], ['N', false], ['off', false], ['False', false]] as const) assert.equal(yamlCppBool(text), value, text);
  for (const text of ['yES', 'oN', 'maybe', '1', '']) assert.equal(yamlCppBool(text), undefined, text);
});

test("yaml-cpp's convert<int64_t> then Envoy's int32 rule: hex, octal, sign; beyond int32 a decimal string; not an integer: undefined", () => {
  const table: [string, number | string | undefined][] = [
    ['80', 80], ['+5', 5], ['-7', -7], ['0x100', 256], ['0100', 64], ['0', 0], ['2147483647', 2147483647], ['2147483648', '2147483648'],
    ['-0x10', -16], ['080', undefined], ['1.5', undefined], ['9223372036854775808', undefined], ['12abc', undefined], ['', undefined],
  ];
  for (const [text, value] of table) assert.equal(yamlCppInteger(text), value, text);
});

test('envoyJson: quoted scalars stay strings, plain ones convert, keys keep their text, !ignore keys go, first document only', () => {
  const text = 'a: yes\nb: "yes"\nc: 0x10\nyes: k\nd: ! 10\ne: !!str 10\n!ignore f: 1\ng: ~\n---\nh: 1\n';
  assert.deepEqual(envoyJson(text, 'x.yaml'), { a: true, b: 'yes', c: 16, yes: 'k', d: '10', e: 10, g: null });
  assert.deepEqual(envoyJson("{'a': 1, }", 'x.json'), { a: 1 }); // protobuf's JSON parser takes these
  assert.throws(() => envoyJson('\uFEFF{}', 'x.json'), /byte order mark/);
  assert.throws(() => envoyJson('a: 1\n', 'x.json'), SyntaxError);
});

test('envoyJson: plain scalars by their first character and length: null words, bool words of up to 5 letters, longer words and others stay text', () => {
  const table: [string, unknown][] = [
    ['~', null], ['null', null], ['Null', null], ['NULL', null], ['nULL', 'nULL'], ['FALSE', false], ['False', false], ['fAlse', 'fAlse'], ['falsey', 'falsey'],
    ['off', false], ['offset', 'offset'], ['timeout', 'timeout'], ['y', true], ['yaml', 'yaml'], ['STRICT_DNS', 'STRICT_DNS'], ['éte', 'éte'], ['_on', '_on'], ['~x', '~x'],
  ];
  for (const [plain, value] of table) {
    assert.deepEqual(envoyJson(`a: ${plain}\n`, 'x.yaml'), { a: value }, plain);
    if (value !== null) assert.deepEqual(envoyJson(`${plain}: k\n`, 'x.yaml'), { [plain]: 'k' }, `${plain} as a key`);
  }
  assert.deepEqual(envoyJson('a:\nb: ""\n', 'x.yaml'), { a: null, b: '' });
});

test('envoyJson: text with nothing to unwrap reads the same (numbers and bools bare, as keys too); a collection used as a key is refused however it is written', () => {
  assert.deepEqual(envoyJson('a: 8080\nb: true\n8080: x\nc: -0\nd: [1, on, "2"]\ne: {f: 0755}\n', 'x.yaml'), { a: 8080, b: true, '8080': 'x', c: 0, d: [1, true, '2'], e: { f: 493 } });
  assert.deepEqual(envoyJson('a: &x {b: 1}\nc: *x\n', 'x.yaml'), { a: { b: 1 }, c: { b: 1 } });
  for (const text of ['? {a: 1}\n: b\n', '{a: 1}: b\n', '[{a: 1}]: b\n', 'k: &k {a: 1}\n*k : b\n', '? a: 1\n: b\n']) {
    assert.throws(() => envoyJson(text, 'x.yaml'), /a mapping used as a mapping key/, text);
  }
});

test('PGV numbers: ranges (inclusive, exclusive, outside), in/not_in, with PGV messages', () => {
  assert.equal(checkNumber(70000, { lte: 65535 }), 'value must be less than or equal to 65535');
  assert.equal(checkNumber(65535, { lte: 65535 }), undefined);
  assert.equal(checkNumber(99, { gte: 200, lt: 600 }), 'value must be inside range [200, 600)');
  assert.equal(checkNumber(5, { lt: 1, gt: 10 }), 'value must be outside range [1, 10]');
  assert.equal(checkNumber(0n, { gt: 0 }), 'value must be greater than 0');
  assert.equal(checkNumber(3, { in: [1, 2] }), 'value must be in list [1 2]');
});

test('PGV durations and strings', () => {
  assert.equal(checkDuration(0n, { gt: '0s' }), 'value must be greater than 0s');
  assert.equal(checkDuration(1_500_000_000n, { lte: '1s' }), 'value must be less than or equal to 1s');
  assert.equal(checkDuration(1_000_000n, { gte: '0.001s' }), undefined);
  assert.equal(checkString('', { minLen: '1' }), 'value length must be at least 1 runes');
  assert.equal(checkString('', { minLen: '1', ignoreEmpty: true }), undefined);
  assert.equal(checkString('x-ok', { wellKnownRegex: 'HTTP_HEADER_NAME', strict: false }), undefined);
  assert.match(checkString('bad header', { wellKnownRegex: 'HTTP_HEADER_NAME' }) ?? '', /does not match regex/);
  assert.match(checkString('a\nb', { wellKnownRegex: 'HTTP_HEADER_VALUE', strict: false }) ?? '', /does not match regex/);
});

test('proto paths: keys as written, indexes in brackets, keys that are not identifiers quoted', () => {
  assert.equal(formatPath(['resources', 0, 'filter_chains', 0, 'typed_config', '@type']), 'resources[0].filter_chains[0].typed_config["@type"]');
  assert.equal(formatPath(['typed_per_filter_config', 'envoy.filters.http.cors']), 'typed_per_filter_config["envoy.filters.http.cors"]');
});

test('PGV rune counts: code points as the string iterator yields them (surrogate pairs one, lone surrogates one each)', () => {
  for (const text of ['', 'a', 'é', '日本', '😀', 'a😀b', '\uD83D', '\uDE00', '\uDE00\uD83D', 'x\uD83Dy', '😀\uD83D', '\uD83D😀', 'e\u0301']) assert.equal(runeCount(text), Array.from(text).length, JSON.stringify(text));
});
