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
    assert.match(err.stderr, /^error: unknown command 'frobnicate' \(commands: serve, inject, copy, watch, status, rbac, validate\)\nrun '.*' for usage\n$/);
    assert.doesNotMatch(err.stderr, /Usage:/);
    return true;
  });
});

/** Runs the CLI; its exit code and streams whatever the code. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await run(process.execPath, ['--import', 'tsx', main, ...args])) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('every command: a usage error (unknown flag, missing argument or value, stray argument) is one error line and where the usage is, exit 2; --help is the usage', async () => {
  const cases: [string, string[], RegExp][] = [
    ['serve', ['--bogus'], /^unknown flag '--bogus'$/],
    ['serve', ['extra'], /^unexpected argument 'extra': this command takes flags only$/],
    ['serve', ['--port'], /^--port needs a value$/],
    ['inject', [], /^-f FILE \(or -f - for stdin\) is required$/],
    ['inject', ['-f'], /^--file needs a value$/],
    ['copy', ['--from', '/tmp'], /^--from and --to are required$/],
    ['copy', ['--bogus'], /^unknown flag '--bogus'$/],
    ['watch', ['--to', '/tmp'], /^--from and --to are required$/],
    ['watch', ['--from', '/tmp', '--to', '/tmp', '--resync'], /^--resync needs a value$/],
    ['status', ['--bogus'], /^unknown flag '--bogus'$/],
    ['status', ['deployment/a', 'deployment/b'], /^one TYPE\/NAME at a time, got deployment\/a deployment\/b$/],
    ['validate', [], /^nothing to check: give files or directories, or -f FILE\|-$/],
    ['validate', ['--bogus', 'x.yaml'], /^unknown flag '--bogus'$/],
    ['validate', ['--strict=yes', 'x.yaml'], /^--strict takes no value$/],
    ['validate', ['-f', '--strict'], /^--file needs a value, and what follows it is a flag \(a value that starts with '-' is written --file=-VALUE\)$/],
    ['rbac', [], /^--namespace, --service-account and --configmap are required$/],
    ['rbac', ['--namespace'], /^--namespace needs a value$/],
  ];
  const results = await Promise.all(cases.map(([command, args]) => cli([command, ...args])));
  cases.forEach(([command, args, message], i) => {
    const r = results[i];
    assert.ok(r !== undefined);
    const what = `${command} ${args.join(' ')}`;
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    const lines = r.stderr.split('\n');
    assert.equal(lines.length, 3, `${what}: two lines, got ${r.stderr}`);
    assert.match(lines[0] ?? '', /^error: /, what);
    assert.match((lines[0] ?? '').slice('error: '.length), message, what);
    assert.match(lines[1] ?? '', new RegExp(`^run '(envoy-xds-injector|node \\S+) ${command} --help' for usage$`), what);
    assert.equal(r.stdout, '', what);
  });
  // --help stays the whole usage, on stdout, exit 0.
  for (const command of ['serve', 'inject', 'copy', 'watch', 'status', 'validate', 'rbac']) {
    const help = await cli([command, '--help']);
    assert.equal(help.code, 0, command);
    assert.match(help.stdout, new RegExp(`^Usage: envoy-xds-injector ${command} `), command);
  }
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

test('status --help names the states each view prints, no more: the five Pod states over the API (status/rules.ts POD_STATES), the verdict outcomes in the watcher container', async () => {
  const { POD_STATES } = await import('../../src/status/rules.js');
  const help = (await cli(['status', '--help'])).stdout.replace(/\s+/g, ' ');
  const stateWords = new Set(help.match(/\b(SYNCED|PENDING|REJECTED|FAILED|UNKNOWN|DEGRADED|READY|ERROR|HELD|OUTDATED|STALE)\b/g));
  assert.deepEqual([...stateWords].sort(), [...POD_STATES].sort(), help);
  assert.match(help, /one of five states per Pod/);
  // The Pod-local table has no state column: its LAST VERDICT outcomes (verdict.ts Outcome).
  assert.match(help, /per file, no Pod state, but its last verdict: accepted, rejected or unknown/);
  assert.match(help, /in the watcher container, no file's ConfigMap version refused/);
});
