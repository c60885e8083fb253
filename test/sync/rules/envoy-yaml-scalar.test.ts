// How Envoy 1.40 reads a plain scalar and a version_info (measured with the binary: test/envoy/verdict-corpus.test.ts,
// 04-version-read-as-envoy, and test/envoy/read-once-readings.test.ts): bools and int32s are refused in
// version_info, an int64 beyond int32 is its decimal, everything else is kept as written.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { envoyPlainScalar, envoyPlainValue, envoyVersionScalar } from '../../../src/sync/envoy/yaml-scalar.js';

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
    // Measured on 1.40 (version_text, or update_failure): yaml-cpp reads integers as strtoll with base 0.
    ['0o17', { kind: 'string', value: '0o17' }], // 1.40's yaml-cpp has no 0o: text
    ['08', { kind: 'string', value: '08' }], // octal stops at 8: text
    ['09.5', { kind: 'string', value: '09.5' }],
    ['0x', { kind: 'string', value: '0x' }],
    ['0100000000000', { kind: 'string', value: '8589934592' }], // octal, beyond int32: its decimal
    ['0x100000000', { kind: 'string', value: '4294967296' }],
    ['+0x100000000', { kind: 'string', value: '4294967296' }],
    ['-0x80000001', { kind: 'string', value: '-2147483649' }],
    ['+5', { kind: 'refused', as: 'int' }],
    ['00', { kind: 'refused', as: 'int' }],
    ['0X10', { kind: 'refused', as: 'int' }],
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

test('plain scalars in any field: the JSON value Envoy makes of them (measured on 1.40 in an integer and a double field)', () => {
  const table: [string, ReturnType<typeof envoyPlainValue>][] = [
    ['60', 60], ['060', 48], ['0x1F', 31], ['0X1F', 31], ['+1', 1], ['+0x10', 16], ['-0x1', -1], ['00', 0], ['-0', 0],
    ['08', '08'], ['1e3', '1e3'], ['1.', '1.'], ['.5', '.5'], ['+.5', '+.5'], ['010.0', '010.0'], ['1_000', '1_000'],
    ['0o17', '0o17'], ['0b11', '0b11'], ['.inf', '.inf'], ['.NaN', '.NaN'], ['1:30', '1:30'],
    ['4294967295', '4294967295'], ['0100000000000', '8589934592'], ['99999999999999999999', '99999999999999999999'],
    ['~', null], ['null', null], ['', null], ['yes', true], ['Off', false], ['TRUE', true], ['n', false],
  ];
  for (const [text, want] of table) assert.deepEqual(envoyPlainValue(text), want, text);
});
