// The Pod-local `status` table when Envoy's admin API does not answer: a real Envoy 1.40 loads what
// the watcher publishes, the watcher asks a closed port, and the table (not only --json) says why
// each verdict is unknown.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { EnvoyAdmin } from '../../src/sync/envoy/admin.js';
import { parseAdminAddress } from '../../src/sync/envoy/subscriptions.js';
import { runCli, waitFor } from '../sync/harness.js';
import { freePorts, ldsYaml } from './envoy.js';
import { TIMEOUT, running, startPod, verdicts } from './pod.js';

test('admin unreachable: the status table says why the verdict is unknown (the verdict\'s line under WHY THE VERDICT IS UNKNOWN), as --json does', TIMEOUT, async () => {
  const [closed] = (await freePorts(1)) as [number];
  const pod = await startPod({
    lds: (port) => ldsYaml({ port, body: 'v1' }),
    watchArgs: ['--admin', `127.0.0.1:${String(closed)}`, '--verdict-timeout', '1s'],
  });
  try {
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': ldsYaml({ port: pod.port, body: 'v2' }) });
    await running(pod).waitForBody(pod.port, 'v2');
    const unknown = () => verdicts(pod.watcher.logs, 'lds.yaml').find((l) => l.outcome === 'unknown');
    await waitFor(() => unknown() !== undefined, 'an unknown verdict');
    const line = unknown() ?? assert.fail();
    const version = String(line.xdsVersion);
    // The state is written after the line: wait for status to show it.
    let table = '';
    await waitFor(async () => {
      table = (await runCli(['status', '--to', pod.target])).stdout;
      return new RegExp(`^lds\\.yaml .* unknown ${version.replace(/[+.]/g, '\\$&')} at \\S+$`, 'm').test(table);
    }, 'status showing the unknown verdict');
    const reason = `Envoy's verdict on lds.yaml version ${version} is unknown: Envoy admin 127.0.0.1:${String(closed)} unreachable: `;
    assert.ok(String(line.msg).startsWith(reason), String(line.msg));
    const section = /\nWHY THE VERDICT IS UNKNOWN\n(.+)\n/.exec(table);
    assert.ok(section?.[1]?.startsWith(reason), table);
    // What --json carries as the verdict's message, the table says the same.
    const json = JSON.parse((await runCli(['status', '--to', pod.target, '--json'])).stdout) as { files: { file: string; verdict?: { message: string } }[] };
    assert.equal(section?.[1], json.files.find((f) => f.file === 'lds.yaml')?.verdict?.message);
  } finally {
    await pod.stop();
  }
});

test('Envoy not up yet (the watcher waits for its first answer): status says the admin API is unreachable, not only "-"; once Envoy is up, no problem is said', TIMEOUT, async () => {
  const pod = await startPod({ lds: (port) => ldsYaml({ port, body: 'v1' }), startEnvoy: false });
  try {
    // The state names no subscription yet (Envoy never answered): status asks Envoy anyway.
    const before = await runCli(['status', '--to', pod.target]);
    assert.equal(before.code, 0, before.stdout + before.stderr);
    assert.match(before.stdout, new RegExp(`^envoy admin 127\\.0\\.0\\.1:${String(pod.adminPort)}: Envoy admin 127\\.0\\.0\\.1:${String(pod.adminPort)} unreachable: connect ECONNREFUSED`, 'm'), before.stdout);
    await pod.startEnvoy();
    // The request status sends with no subscription to name: Envoy answers it (200, nothing matched).
    const admin = new EnvoyAdmin(parseAdminAddress(`127.0.0.1:${String(pod.adminPort)}`));
    try {
      assert.equal((await admin.subscriptionStats([], 2000)).size, 0);
    } finally {
      admin.close();
    }
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').length > 0, 'the first verdict');
    const after = await runCli(['status', '--to', pod.target]);
    assert.match(after.stdout, new RegExp(`^envoy admin 127\\.0\\.0\\.1:${String(pod.adminPort)}$`, 'm'), after.stdout);
  } finally {
    await pod.stop();
  }
});
