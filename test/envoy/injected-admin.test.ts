// The copy and watch containers exactly as injectPod writes them, run against a real Envoy 1.40 whose
// bootstrap stays in the image (outside the ConfigMap): README's "the bootstrap stays in the image"
// setup. With the `admin` annotation the watcher finds Envoy's admin API and judges an edit Envoy
// refuses (rejected, rolled back); without it its args name no admin address and it cannot.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultConfig, injectPod } from '../../src/inject/index.js';
import { CONFIG_DIR, SOURCE_DIR } from '../../src/inject/names.js';
import { AtomicWriter, CliProcess, makeTempDirs, runCli, waitFor } from '../sync/harness.js';
import { bootstrapYaml, freePorts, ldsYaml, startEnvoy } from './envoy.js';
import { TIMEOUT, refusedLds, verdicts } from './pod.js';

const A = (name: string): string => `envoy-xds-injector.io/${name}`;

/** The injected copy and watch args for README's image-bootstrap Pod, with the Pod's paths mapped onto `dirs`. */
function injectedArgs(annotations: Record<string, string>, dirs: { source: string; target: string }): { copy: string[]; watch: string[]; warnings: string[] } {
  const pod: Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'edge', annotations: { [A('inject')]: 'true', [A('configmap')]: 'edge-xds', [A('mount-path')]: '/etc/envoy/xds', ...annotations } },
    // No command or args: the image's own `envoy -c /etc/envoy/envoy.yaml`.
    spec: { containers: [{ name: 'envoy', image: 'envoyproxy/envoy:v1.40.0' }] },
  };
  const result = injectPod(pod, defaultConfig('test'));
  assert.equal(result.decision, 'injected', JSON.stringify(result));
  const init = (result.pod.spec?.initContainers ?? []) as { name: string; args?: string[] }[];
  const mapped = (name: string): string[] =>
    (init.find((c) => c.name === name)?.args ?? []).map((arg) => arg.replace(SOURCE_DIR, dirs.source).replace(CONFIG_DIR, dirs.target));
  return { copy: mapped('envoy-xds-copy'), watch: mapped('envoy-xds-watch'), warnings: result.warnings };
}

for (const withAdmin of [true, false]) {
  test(
    withAdmin
      ? "bootstrap in the image, admin annotation set: the injected watcher judges a refused edit (rejected) and puts back what Envoy runs"
      : "bootstrap in the image, no admin annotation: warned at admission, and the injected watcher's verdict is unknown",
    TIMEOUT,
    async () => {
      const dirs = await makeTempDirs('envoy-injected-admin-');
      const [port, adminPort] = (await freePorts(2)) as [number, number];
      const args = injectedArgs(withAdmin ? { [A('admin')]: `127.0.0.1:${String(adminPort)}` } : {}, dirs);
      assert.equal(args.warnings.some((w) => w.includes(A('admin'))), !withAdmin, JSON.stringify(args.warnings));
      // Envoy's own bootstrap, outside the ConfigMap, naming the published LDS file.
      const bootstrap = join(dirs.root, 'image-envoy.yaml');
      await writeFile(bootstrap, bootstrapYaml({ lds: join(dirs.target, 'lds.yaml'), admin: { port: adminPort } }));
      const writer = new AtomicWriter(dirs.source);
      await writer.write({ 'lds.yaml': ldsYaml({ port, body: 'v1' }) });
      const copy = await runCli(args.copy);
      assert.equal(copy.code, 0, copy.stdout);
      const envoy = await startEnvoy({ bootstrap: { path: bootstrap } }, 60_000);
      const watcher = new CliProcess([...args.watch, '--verdict-timeout', '30s']);
      try {
        await waitFor(() => existsSync(args.watch[args.watch.indexOf('--ready-file') + 1] ?? ''), 'ready file');
        await envoy.waitForBody(port, 'v1');
        const good = await readFile(join(dirs.target, 'lds.yaml'), 'utf8');
        await writer.write({ 'lds.yaml': await refusedLds(port) });
        const verdict = await watcher.waitForLog((l) => l.event === 'verdict' && l.file === 'lds.yaml' && l.outcome !== 'accepted', 'a verdict on the refused edit');
        if (withAdmin) {
          assert.equal(verdict.outcome, 'rejected', watcher.stdout.slice(-4000));
          await waitFor(async () => (await readFile(join(dirs.target, 'lds.yaml'), 'utf8')) === good, 'the accepted lds.yaml put back');
        } else {
          assert.equal(verdict.outcome, 'unknown', watcher.stdout.slice(-4000));
          assert.ok(verdicts(watcher.logs, 'lds.yaml').every((l) => l.outcome === 'unknown'));
        }
        await envoy.waitForBody(port, 'v1');
      } finally {
        await watcher.stop();
        await envoy.stop();
        await rm(dirs.root, { recursive: true, force: true });
      }
    },
  );
}
