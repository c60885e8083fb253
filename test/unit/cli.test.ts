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

test("the overview lists every flag of each command's own usage line", async () => {
  const overview = (await run(process.execPath, ['--import', 'tsx', main, '--help'])).stdout;
  // Each command's entry: from its name at the start of a line to the next command or the end.
  const entries = new Map<string, string>();
  for (const m of overview.matchAll(/^ {2}(\w+) {2,}([\s\S]*?)(?=^ {2}\w+ {2,}|^Run )/gm)) entries.set(m[1] ?? '', m[2] ?? '');
  assert.deepEqual([...entries.keys()], ['serve', 'inject', 'copy', 'watch', 'status', 'rbac']);
  for (const [name, entry] of entries) {
    const usage = (await run(process.execPath, ['--import', 'tsx', main, name, '--help'])).stdout;
    const synopsis = usage.split('\n')[0] ?? '';
    // Long flags, capital short flags that have no long form (-R), and a flag's alternative
    // operands as written (-f FILE|DIR|-); lowercase short flags are listed by their long name.
    for (const flag of synopsis.match(/--[a-z-]+|(?<=[\s[])-(?:[A-Z]|[a-zA-Z] [A-Z]+(?:\|[A-Z-]+)+)(?=[\s\]])/g) ?? []) {
      assert.ok(entry.includes(flag), `'envoy-xds-injector --help' does not list ${name} ${flag} (from '${synopsis}')`);
    }
  }
  assert.match(entries.get('rbac') ?? '', /ConfigMap/, 'rbac prints three objects, the last-accepted ConfigMap too');
});
