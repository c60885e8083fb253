import { execFile } from 'node:child_process';
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;

test('the CLI prints usage with --help and refuses unknown commands', async () => {
  const help = await run(process.execPath, ['--import', 'tsx', main, '--help']);
  assert.match(help.stdout, /serve/);
  assert.match(help.stdout, /watch\s+--from DIR --to DIR/);
  await assert.rejects(run(process.execPath, ['--import', 'tsx', main, 'frobnicate']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /unknown command 'frobnicate'/);
    return true;
  });
});
