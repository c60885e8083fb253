// docs/sync.md "Try it on your machine, without a cluster" is run as an operator would, with the
// official Envoy 1.40: every command of its shell blocks, in order, and what the comments say it
// prints is checked (a curl's body, a verdict's outcome, validate's position, status's exit code and
// output).
// Only the directory (/tmp/envoy-xds-try), the two ports and `npx envoy-xds-injector` (this
// clone's built CLI) are replaced; terminal 2 and 3 run in the background.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, waitFor } from '../sync/harness.js';
import { envoyBinary, freePorts } from './envoy.js';
import { TIMEOUT } from './pod.js';
import { refusedCopy } from '../helpers/refused-copy.js';

const SECTION = '## Try it on your machine, without a cluster';

/** The section's shell blocks as one list of lines, their indentation removed. */
async function recipeLines(): Promise<string[]> {
  const doc = await readFile(join(repoRoot, 'docs/sync.md'), 'utf8');
  const start = doc.indexOf(`\n${SECTION}\n`);
  assert.ok(start >= 0, `docs/sync.md has no "${SECTION}"`);
  const end = doc.indexOf('\n## ', start + SECTION.length + 2);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const lines: string[] = [];
  for (const block of section.matchAll(/^( *)```sh\n([\s\S]*?)^\1```$/gm)) {
    const indent = block[1]?.length ?? 0;
    for (const line of (block[2] ?? '').split('\n')) if (line !== '') lines.push(line.slice(indent));
  }
  return lines;
}

/** A command with the comment lines after it (what it prints) and its own trailing comment. */
interface Step {
  command: string;
  note: string;
  says: string[];
}

/** Logical commands: heredocs and `\` continuations joined; `#` lines go with the command before. */
function steps(lines: string[]): Step[] {
  const out: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] ?? '';
    if (line.startsWith('#')) {
      out.at(-1)?.says.push(line.replace(/^#\s*/, ''));
      continue;
    }
    const heredoc = /<<'(\w+)'$/.exec(line);
    if (heredoc !== null) {
      while (i + 1 < lines.length && lines[i] !== heredoc[1]) line += `\n${lines[++i] ?? ''}`;
      out.push({ command: `${line}\n`, note: '', says: [] });
      continue;
    }
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${(lines[++i] ?? '').trim()}`;
    // A trailing comment: two spaces or more before `#` (a `#` inside quotes has none).
    const note = / {2,}#\s*(.*)$/.exec(line);
    out.push({ command: note === null ? line : line.slice(0, note.index), note: note?.[1] ?? '', says: [] });
  }
  return out;
}

/** A line of output with what differs from run to run masked (masked before adapt: a hash or time may hold '9901'). */
function unvarying(line: string): string {
  return line
    .replace(/sha256([:-])[0-9a-f]{12}/g, 'sha256$1…')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, 'TIME')
    .replace(/\(\d+(?:\.\d+)? ms\)/g, '(N ms)')
    .replace(/watcher pid \d+/g, 'watcher pid N')
    .replace(/node \S*\/dist\/cli\/main\.js/g, 'node …/dist/cli/main.js');
}

test('the local recipe in docs/sync.md runs as written: Envoy serves each good edit, refuses the bad one, and the lines and validate say what the comments say', TIMEOUT, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'envoy-xds-try-'));
  const [admin, listener] = (await freePorts(2)) as [number, number];
  const envoy = await envoyBinary();
  const cli = `node ${join(repoRoot, 'dist/cli/main.js')}`;
  const adapt = (text: string): string =>
    text.replaceAll('/tmp/envoy-xds-try', dir).replaceAll('9901', String(admin)).replaceAll('10000', String(listener)).replaceAll('npx envoy-xds-injector', cli);
  const background: ChildProcess[] = [];
  const watchLines: string[] = [];
  let functions = '';
  const bash = (command: string) => spawnSync('bash', ['-c', `${functions}\n${command}`], { encoding: 'utf8', env: { ...process.env, ENVOY: envoy } });
  const lines = (): Record<string, unknown>[] =>
    watchLines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  try {
    const all = steps(await recipeLines());
    assert.ok(all.some((s) => s.command.startsWith('edit ')) && all.some((s) => s.command.includes(' validate ')), 'the recipe edits and validates');
    for (const step of all) {
      const command = adapt(step.command);
      const what = `${step.command} (${step.note})`;
      if (step.note === 'terminal 2' || step.note === 'terminal 3') {
        const child = spawn('bash', ['-c', `exec ${command}`], { env: { ...process.env, ENVOY: envoy }, stdio: ['ignore', 'pipe', 'pipe'] });
        background.push(child);
        // Read, so that a full pipe never blocks Envoy's logging; terminal 2's stdout too.
        child.stderr.resume();
        if (step.note !== 'terminal 3') child.stdout.resume();
        if (step.note === 'terminal 3') {
          let rest = '';
          child.stdout.on('data', (chunk: Buffer) => {
            const parts = (rest + chunk.toString()).split('\n');
            rest = parts.pop() ?? '';
            watchLines.push(...parts);
          });
          await waitFor(() => watchLines.some((l) => l.includes('"msg":"watching"')), 'watch to be watching');
        }
        continue;
      }
      if (/^\w+\(\) \{/.test(command)) {
        functions += `${command}\n`;
        continue;
      }
      const before = lines().length;
      if (command.startsWith('curl ')) {
        const body = /^(?:still )?(v\d+)$/.exec(step.note)?.[1];
        assert.ok(body !== undefined, `${what}: the comment names the body`);
        // Envoy serves an accepted update at once, but the first curl may come before it listens.
        let got = '';
        await waitFor(() => {
          got = bash(command).stdout.trim();
          return got === body;
        }, `${what}: got ${got}`, 10_000);
        continue;
      }
      const run = bash(command);
      if (command.includes(' status ')) {
        assert.equal(run.status, step.note.includes('exit 1') ? 1 : 0, `${what}: ${run.stderr}`);
        // The sample is the whole output as a terminal shows it (stdout, then the stderr line), with
        // what differs between runs masked: versions, times, the watcher's pid, the clone's path.
        if (step.says.length > 0) {
          const printed = `${run.stdout}${run.stderr}`.replace(/\n$/, '').split('\n');
          assert.deepEqual(printed.map(unvarying), step.says.map((line) => adapt(unvarying(line))), `${what}: prints\n${run.stdout}${run.stderr}`);
        }
        continue;
      }
      const said = step.says.join(' ');
      // validate exits 1 on an error (docs/validate.md).
      const refused = command.includes(' validate ') && /^\S+:\d+:\d+: error: /.test(said);
      assert.equal(run.status, refused ? 1 : 0, `${what}: ${run.stdout}${run.stderr}`);
      if (command.startsWith('edit ')) {
        const outcome = /"outcome":"(\w+)"/.exec(said)?.[1];
        assert.ok(outcome !== undefined, `${what}: the comment gives the verdict`);
        // The verdict on what this edit published, by its version: the line on the file found at
        // start may come after the first edit has begun (the watcher judges it once Envoy answers).
        let published: unknown;
        await waitFor(() => (published = lines().slice(before).find((l) => l.msg === 'published' && l.file === 'lds.yaml')?.xdsVersion) !== undefined, `${what}: published`);
        let verdict: Record<string, unknown> = {};
        await waitFor(() => (verdict = lines().find((l) => l.event === 'verdict' && l.xdsVersion === published) ?? {}).outcome !== undefined, `${what}: a verdict on ${String(published)}`);
        assert.equal(verdict.outcome, outcome, `${what}: ${String(verdict.msg)}`);
        // The command the line suggests checks what the recipe checks next: the copy of exactly the
        // content Envoy loaded, refused or accepted with fields it ignored (the recipe runs
        // refused/lds.yaml or accepted/lds.yaml, the last of each: the same content).
        const hinted = refusedCopy(adapt('/tmp/envoy-xds-try/config'), 'lds.yaml', verdict.xdsVersion, outcome === 'rejected' ? 'refused' : 'accepted');
        if (said.includes('validate')) assert.match(String(verdict.msg), new RegExp(` validate ${hinted.replace(/[.+]/g, '\\$&')} names `), String(verdict.msg));
        if (said.includes('"ignoredFields":1')) assert.equal(verdict.ignoredFields, 1, String(verdict.msg));
      }
      if (command.includes(' validate ')) {
        const finding = /^(\S+:\d+:\d+: (?:error|warning): \S+)/.exec(said)?.[1];
        assert.ok(finding !== undefined, `${what}: the comment gives the finding`);
        assert.ok(run.stderr.includes(adapt(finding)), `${what}: ${run.stderr}`);
      }
    }
  } finally {
    for (const child of background) child.kill('SIGTERM');
    await Promise.all(background.filter((child) => child.exitCode === null && child.signalCode === null).map((child) => new Promise((resolve) => child.once('exit', resolve))));
    await rm(dir, { recursive: true, force: true });
  }
});
