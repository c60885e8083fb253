import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logDestination } from '../../src/cli/log-destination.js';

test('log destination per command: the sidecars write each line in the call, inject logs to stderr, serve keeps pino default', () => {
  const table: [string, ReturnType<typeof logDestination>][] = [
    ['watch', { dest: 1, sync: true }],
    ['copy', { dest: 1, sync: true }],
    ['inject', { dest: 2, sync: false }],
    ['serve', undefined],
    ['validate', undefined],
  ];
  for (const [command, expected] of table) assert.deepEqual(logDestination(command), expected, command);
});
