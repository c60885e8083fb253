// `npm start` (and `npm run dev`) as an operator runs it, stopped by a signal sent to the npm process
// alone (a process manager, `kill <npm pid>`; a terminal's Ctrl-C signals the whole group instead).
// npm forwards SIGINT/SIGTERM to its one child, the shell running the script, so the scripts exec:
// a shell in between dies of SIGTERM (leaving the server listening as an orphan) or waits for it on
// SIGINT. `npm start` runs dist/ (`npm test` builds it first); both use the dev certificate in
// ./.dev-certs, as `npm start` does. Linux: reads /proc.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { LogFollower } from './serve-harness.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

interface Member { pid: number; cmdline: string }

/** The processes whose process group is `pgid`, from /proc (zombies have an empty cmdline). */
async function groupMembers(pgid: number): Promise<Member[]> {
  const members: Member[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the ')' closing the command name: state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ').trim();
      members.push({ pid: Number(entry), cmdline });
    } catch {
      // gone between readdir and read
    }
  }
  return members;
}

/** Whether 127.0.0.1:port can be bound again, i.e. nothing listens on it any more. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => {
      resolve(false);
    });
    probe.listen(port, '127.0.0.1', () => {
      probe.close(() => {
        resolve(true);
      });
    });
  });
}

const scripts = [
  { args: ['start'], server: 'dist/cli/main.js serve' },
  { args: ['run', 'dev'], server: 'src/cli/main.ts serve' },
];

for (const { args, server } of scripts) for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} sent to the npm process of \`npm ${args.join(' ')}\` stops the server: npm exits 0, the port is free, no process is left`, async () => {
    if (args[0] === 'start') assert.ok(existsSync(new URL('dist/cli/main.js', `file://${repo}`)), 'dist/cli/main.js is missing: run `npm run build` (npm test does)');
    // detached: npm leads a new process group, which everything it starts joins (and stays in when
    // orphaned), so the group's members after npm exits are exactly what it left behind.
    const npm = spawn('npm', [...args, '--', '--port', '0'], {
      cwd: repo,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'info', npm_config_update_notifier: 'false' },
    });
    const { pid } = npm;
    assert.ok(pid !== undefined, 'npm did not start');
    const logs = new LogFollower();
    let stderr = '';
    npm.stdout.setEncoding('utf8').on('data', (c: string) => {
      logs.push(c);
    });
    npm.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exit = once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      const listening = await Promise.race([
        logs.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('serving admission reviews at '), 'serving admission reviews'),
        exit.then(([code]) => {
          throw new Error(`npm ${args.join(' ')} exited with ${String(code)} before listening: ${stderr}`);
        }),
      ]);
      const port = Number(listening.port);
      const before = await groupMembers(pid);
      assert.ok(before.some((m) => m.cmdline.includes(server)), `the server runs in npm's group: ${JSON.stringify(before)}`);

      process.kill(pid, signal);
      // A generous bound, not a speed check (it stops in well under a second): a shell between npm
      // and node waits for node on SIGINT, so without exec npm never exits.
      const [code, killedBy] = await Promise.race([
        exit,
        new Promise<never>((_, reject) => {
          setTimeout(() => {
            void groupMembers(pid).then((left) => {
              reject(new Error(`npm ${args.join(' ')} still running 30 s after ${signal}: ${JSON.stringify(left)}`));
            });
          }, 30_000).unref();
        }),
      ]);

      assert.deepEqual(await groupMembers(pid), [], `processes left behind by npm ${args.join(' ')} (before the signal: ${JSON.stringify(before)})`);
      assert.equal(await portIsFree(port), true, `port ${String(port)} still taken`);
      assert.deepEqual({ code, killedBy }, { code: 0, killedBy: null }, stderr);
      assert.equal(logs.byMessage('shut down').length, 1, 'the server shut down gracefully');
    } finally {
      // Whatever this test started and is still running (the bug this test is about): end it.
      for (const m of await groupMembers(pid)) process.kill(m.pid, 'SIGKILL');
    }
  });
}
