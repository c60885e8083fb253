// `status`'s two views on the command line: which flags go with which, and clear errors.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONFIG_DIR } from '../../src/inject/names.js';
import { runCli } from '../sync/harness.js';

test('status: workload flags need TYPE/NAME or -l; --to is the Pod-local view\'s; a bad TYPE/NAME or output says what is expected', async () => {
  const cases: [string[], RegExp][] = [
    [['status', '-n', 'shop'], /--namespace needs a workload: TYPE\/NAME \(e\.g\. deployment\/envoy\) or -l SELECTOR/],
    [['status', '--wait'], /--wait needs a workload/],
    [['status', '-n', 'shop', '--wait'], /--namespace, --wait need a workload/],
    [['status', '-o', 'yaml'], /--output needs a workload: .* \(the Pod-local view prints a table, or JSON with -o json\)/],
    [['status', 'deployment/envoy', '--to', '/x'], /--to is the Pod-local view's/],
    [['status', 'service/envoy'], /'service\/envoy': expected deployment\/NAME, daemonset\/NAME, statefulset\/NAME or pod\/NAME/],
    [['status', 'deployment/envoy', '-o', 'wide'], /-o: expected json or yaml, got 'wide'/],
    [['status', 'deployment/envoy', '--timeout', '5s'], /--timeout without --wait/],
    [['status', 'deployment/a', 'deployment/b'], /one TYPE\/NAME at a time/],
    [['status', 'deployment/envoy', '-l', 'app=x'], /give TYPE\/NAME or -l SELECTOR, not both/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});

test('status deployment/NAME: an unreachable API or a missing context is exit 1 with the reason, no stack', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'status-cli-'));
  try {
    const kubeconfig = join(dir, 'config');
    await writeFile(kubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
      clusters: [{ name: 'k', cluster: { server: 'https://127.0.0.1:9' } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u', namespace: 'shop' } }],
    }));
    const down = await runCli(['status', 'deployment/envoy', '--kubeconfig', kubeconfig]);
    assert.equal(down.code, 1, down.stderr);
    assert.match(down.stderr, /^envoy-xds-injector status: deployment\/envoy in namespace shop: .*ECONNREFUSED/m);
    const context = await runCli(['status', 'deployment/envoy', '--kubeconfig', kubeconfig, '--context', 'nope']);
    assert.equal(context.code, 1);
    assert.match(context.stderr, /context "nope" does not exist in the kubeconfig/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('status deployment/NAME with no kubeconfig anywhere and not in a cluster: one line saying what was looked for, exit 1', async () => {
  const home = await mkdtemp(join(tmpdir(), 'status-cli-home-'));
  try {
    const r = await runCli(['status', '-n', 'shop', 'deployment/envoy'], { env: { HOME: home, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' } });
    assert.equal(r.code, 1, r.stderr);
    const message = `envoy-xds-injector status: no configuration has been provided: no --kubeconfig, KUBECONFIG unset, no ${join(home, '.kube', 'config')}, not in a cluster (KUBERNETES_SERVICE_HOST unset); set --kubeconfig or KUBECONFIG`;
    assert.equal(r.stderr.trim(), message);
    assert.doesNotMatch(r.stderr, /skipTLSVerify/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('status deployment/NAME with a kubeconfig that cannot be read: the line says it is the kubeconfig, and where it was named', async () => {
  const missing = join(tmpdir(), 'status-cli-no-such-kubeconfig');
  const fromEnv = await runCli(['status', '-n', 'shop', 'deployment/envoy'], { env: { KUBECONFIG: missing } });
  assert.equal(fromEnv.code, 1, fromEnv.stderr);
  assert.match(fromEnv.stderr, new RegExp(`^envoy-xds-injector status: cannot read the kubeconfig \\(KUBECONFIG=${missing}\\): ENOENT`, 'm'));
  const fromFlag = await runCli(['status', '-n', 'shop', 'deployment/envoy', '--kubeconfig', missing]);
  assert.equal(fromFlag.code, 1, fromFlag.stderr);
  assert.match(fromFlag.stderr, new RegExp(`^envoy-xds-injector status: cannot read the kubeconfig \\(--kubeconfig ${missing}\\): ENOENT`, 'm'));
});

test('status with no --to outside a Pod (no injected directory): the Pod-local error points at the workload view; with --to it does not', async () => {
  const bare = await runCli(['status']);
  assert.equal(bare.code, 1, bare.stderr);
  assert.match(bare.stderr, /^envoy-xds-injector status: no verdict state at .*: is 'watch' running with --to .*\? \(it writes the state as it starts\)/);
  // This machine is outside a Pod unless it has the injected directory.
  assert.equal(bare.stderr.endsWith('; outside a Pod, ask the cluster: envoy-xds-injector status -n NAMESPACE deployment/NAME\n'), !existsSync(CONFIG_DIR), bare.stderr);
  const dir = await mkdtemp(join(tmpdir(), 'status-cli-'));
  try {
    const given = await runCli(['status', '--to', dir]);
    assert.equal(given.code, 1, given.stderr);
    assert.doesNotMatch(given.stderr, /outside a Pod/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
