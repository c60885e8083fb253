// How Envoy 1.40 reads a version_info scalar (measured with the binary: test/envoy/verdict-corpus.test.ts,
// 04-version-read-as-envoy): bools and int32s are refused, everything else is kept as written.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { envoyPlainScalar, envoyVersionScalar } from '../../../src/sync/envoy/yaml-scalar.js';

test('plain scalars: what Envoy reports, or that it refuses the file', () => {
  const table: [string, ReturnType<typeof envoyPlainScalar>][] = [
    ['2024-05-02', { kind: 'string', value: '2024-05-02' }],
    ['2024-05-02T10:00:00Z', { kind: 'string', value: '2024-05-02T10:00:00Z' }],
    ['1.20', { kind: 'string', value: '1.20' }],
    ['1e3', { kind: 'string', value: '1e3' }],
    ['.inf', { kind: 'string', value: '.inf' }],
    ['1_000', { kind: 'string', value: '1_000' }],
    ['v1', { kind: 'string', value: 'v1' }],
    ['', { kind: 'string', value: '' }],
    ['~', { kind: 'string', value: '' }],
    ['null', { kind: 'string', value: '' }],
    ['3', { kind: 'refused', as: 'int' }],
    ['007', { kind: 'refused', as: 'int' }],
    ['0x1F', { kind: 'refused', as: 'int' }],
    ['-12', { kind: 'refused', as: 'int' }],
    ['2147483648', { kind: 'string', value: '2147483648' }],
    ['20240502123456', { kind: 'string', value: '20240502123456' }],
    ['yes', { kind: 'refused', as: 'bool' }],
    ['True', { kind: 'refused', as: 'bool' }],
    ['OFF', { kind: 'refused', as: 'bool' }],
    ['n', { kind: 'refused', as: 'bool' }],
    ['yEs', { kind: 'string', value: 'yEs' }],
  ];
  for (const [text, want] of table) assert.deepEqual(envoyPlainScalar(text), want, text);
});

test('the text after version_info: quoted, plain with a comment, or not a one-line scalar', () => {
  assert.deepEqual(envoyVersionScalar(' "0"'), { kind: 'string', value: '0' });
  assert.deepEqual(envoyVersionScalar(" '0' # never bumped"), { kind: 'string', value: '0' });
  assert.deepEqual(envoyVersionScalar(" 'it''s'"), { kind: 'string', value: "it's" });
  assert.deepEqual(envoyVersionScalar(' "a\\"b"'), { kind: 'string', value: 'a"b' });
  assert.deepEqual(envoyVersionScalar(' 2024-05-02 # release'), { kind: 'string', value: '2024-05-02' });
  assert.deepEqual(envoyVersionScalar(' 3'), { kind: 'refused', as: 'int' });
  assert.deepEqual(envoyVersionScalar(''), { kind: 'string', value: '' });
  assert.equal(envoyVersionScalar(' |'), undefined);
  assert.equal(envoyVersionScalar(' &v "1"'), undefined);
  assert.equal(envoyVersionScalar(' "unterminated'), undefined);
});
