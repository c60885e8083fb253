// Envoy's verdict, judged by Envoy: a real Envoy 1.40 reads the files `copy` and `watch` publish
// (real inotify, kubelet's AtomicWriter layout), and the watcher must report what Envoy did with
// each version, put back what Envoy runs when it refuses one, and say so.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { AtomicWriter, CliProcess, makeTempDirs, publishedText, runCli, waitFor } from '../sync/harness.js';
import { pino } from 'pino';
import { parseConfig } from '../../src/sync/envoy/subscriptions.js';
import type { Verdict } from '../../src/sync/verdict/verdict.js';
import { runWatch } from '../../src/sync/watch/run-watch.js';
import { verdictOccurrence } from '../../src/sync/watch/reporters.js';
import { sha256, stampVersion } from '../../src/sync/envoy/version-stamp.js';
import { bootstrapYaml, freePorts, ldsYaml, rdsYaml, startEnvoy } from './envoy.js';
import { READY, TIMEOUT, refusedLds, running, startPod, verdicts } from './pod.js';
import { refusedCopy } from '../helpers/refused-copy.js';

test('accepted: Envoy serves the new body and the watcher logs an accepted verdict for the stamped version', TIMEOUT, async () => {
  const pod = await startPod({ lds: (port) => ldsYaml({ port, body: 'v1' }) });
  try {
    const envoy = running(pod);
    await envoy.waitForBody(pod.port, 'v1');
    // copy stamped the file Envoy started with; the watcher judged it at start.
    const first = await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.file === 'lds.yaml', 'initial verdict');
    assert.equal(first.outcome, 'accepted');
    assert.match(String(first.xdsVersion), /^sha256:[0-9a-f]{12}$/);
    assert.equal(await envoy.textStat('listener_manager.lds.version_text'), first.xdsVersion);

    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': ldsYaml({ port: pod.port, body: 'v2' }) });
    await envoy.waitForBody(pod.port, 'v2');
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').length === 2, 'second verdict');
    const second = verdicts(pod.watcher.logs, 'lds.yaml')[1];
    assert.ok(second);
    assert.equal(second.outcome, 'accepted');
    assert.equal(second.previousXdsVersion, first.xdsVersion);
    assert.notEqual(second.xdsVersion, first.xdsVersion);
    assert.equal(typeof second.latencyMs, 'number');
    assert.equal(await envoy.textStat('listener_manager.lds.version_text'), second.xdsVersion);
    // The user's text is published as written, plus one line.
    const published = await readFile(join(pod.target, 'lds.yaml'), 'utf8');
    assert.equal(published, `version_info: "${String(second.xdsVersion)}"\n${ldsYaml({ port: pod.port, body: 'v2' })}`);
  } finally {
    await pod.stop();
  }
});

test('rejected (shared case): Envoy keeps the old body, the disk goes back to it, a restarted Envoy serves it', TIMEOUT, async () => {
  const pod = await startPod({ lds: (port) => ldsYaml({ port, body: 'v1' }) });
  try {
    let envoy = running(pod);
    await envoy.waitForBody(pod.port, 'v1');
    const good = await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.outcome === 'accepted', 'v1 accepted');
    const goodContent = await readFile(join(pod.target, 'lds.yaml'), 'utf8');

    const refused = await refusedLds(pod.port);
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': refused });
    const verdict = await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.outcome === 'rejected', 'rejected verdict');
    assert.equal(verdict.file, 'lds.yaml');
    assert.match(String(verdict.xdsVersion), /^example-2\+sha256:[0-9a-f]{12}$/); // the user's own version_info stays visible
    assert.equal(verdict.previousXdsVersion, good.xdsVersion);
    assert.equal(verdict.rolledBack, true);
    const counters = (verdict.counters as Record<string, { failure: number }>)['listener_manager.lds'];
    assert.ok(counters !== undefined && counters.failure >= 1, JSON.stringify(verdict.counters));
    assert.match(String(verdict.msg), /rejected lds\.yaml version example-2/);

    // Envoy still serves the old body; the disk holds what it runs; the refused text is kept.
    assert.deepEqual(await envoy.get(pod.port), { status: 200, body: 'v1' });
    assert.equal(await envoy.textStat('listener_manager.lds.version_text'), good.xdsVersion);
    assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), goodContent);
    assert.equal(await readFile(String(verdict.refused), 'utf8'), publishedText('lds.yaml', refused));

    // `status` (what an operator runs with kubectl exec) tells the whole story of the file.
    const status = await runCli(['status', '--to', pod.target]);
    // The ConfigMap still holds the refused version: exit 1, the file named on stderr (docs/status.md).
    assert.equal(status.code, 1, status.stderr);
    assert.match(status.stderr, /^envoy-xds-injector status: the ConfigMap's version is refused: lds\.yaml \(Envoy refused it\)/);
    const row = status.stdout.split('\n').find((line) => line.startsWith('lds.yaml '));
    assert.ok(row !== undefined, status.stdout);
    const columns = row.split(/\s{2,}/).slice(0, 4);
    assert.deepEqual([columns[0], columns[2], columns[3]], ['lds.yaml', String(good.xdsVersion), String(good.xdsVersion)]);
    assert.equal(columns[1], `${String(verdict.xdsVersion)} (refused, held back)`);
    assert.match(row, /rejected example-2\+sha256:[0-9a-f]{12} at \S+Z \([\d.]+ ms\), rolled back$/);
    const json = JSON.parse((await runCli(['status', '--to', pod.target, '--json'])).stdout) as { admin: string; files: { file: string; envoy?: { live: boolean } }[] };
    assert.equal(json.admin, `127.0.0.1:${String(pod.adminPort)}`);
    assert.equal(json.files.find((f) => f.file === 'lds.yaml')?.envoy?.live, true);

    // A resync must not publish the refused content again.
    const ldsPublishes = () => pod.watcher.logs.filter((l) => l.msg === 'published' && l.file === 'lds.yaml').length;
    const before = ldsPublishes();
    await pod.writer.write({ 'envoy.yaml': `${pod.bootstrapText}# touched\n`, 'lds.yaml': refused });
    await pod.watcher.waitForLog((l) => l.msg === 'published' && l.file === 'envoy.yaml', 'bootstrap republished');
    assert.equal(ldsPublishes(), before);
    assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), goodContent);

    // A restarted watcher (state in the emptyDir) still holds the refused content back, restart after restart.
    for (const restart of [1, 2]) {
      assert.equal((await pod.watcher.stop()).code, 0);
      pod.watcher = new CliProcess(['watch', '--from', pod.source, '--to', pod.target, '--ready-file', join(pod.target, READY), '--bootstrap', 'envoy.yaml']);
      await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.file === 'lds.yaml', `verdict after watcher restart ${String(restart)}`);
      assert.equal(pod.watcher.logs.filter((l) => l.msg === 'published' && l.file === 'lds.yaml').length, 0, `restart ${String(restart)}`);
      assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), goodContent);
    }

    // A restarted Envoy loads exactly what the running one ran.
    await envoy.stop();
    envoy = await pod.startEnvoy();
    await envoy.waitForBody(pod.port, 'v1');
    assert.equal(await envoy.stat('listener_manager.lds.update_failure'), 0);

    // Fixing the ConfigMap releases the hold.
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': ldsYaml({ port: pod.port, body: 'v3' }) });
    await envoy.waitForBody(pod.port, 'v3');
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').some((l) => l.outcome === 'accepted' && l !== good), 'v3 accepted');

    // The hold is released by any other content: after the fix, and after a plain revert (nothing to
    // publish), the refused content is tried again (and refused again, and rolled back again).
    const v3Content = await readFile(join(pod.target, 'lds.yaml'), 'utf8');
    const rejections = () => verdicts(pod.watcher.logs, 'lds.yaml').filter((l) => l.outcome === 'rejected' && l.rolledBack === true).length;
    const rejectedBefore = rejections();
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': refused });
    await waitFor(() => rejections() === rejectedBefore + 1, 'refused again after the fix');
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': ldsYaml({ port: pod.port, body: 'v3' }) }); // revert
    await waitFor(async () => !(await runCli(['status', '--to', pod.target])).stdout.includes('(refused, held back)'), 'the revert reaches the ConfigMap');
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': refused });
    await waitFor(() => rejections() === rejectedBefore + 2, 'refused again after the revert');
    assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), v3Content);
    await envoy.waitForBody(pod.port, 'v3');

    // Envoy gone: status still answers, from the last verdicts.
    await envoy.stop();
    pod.envoy = undefined;
    const offline = await runCli(['status', '--to', pod.target]);
    assert.equal(offline.code, 1, 'the ConfigMap holds the refused version again: exit 1 while Envoy is down too');
    assert.match(offline.stdout, /unreachable/);
    assert.match(offline.stdout, /^lds\.yaml .*\(last seen \S+\)\s+rejected example-2\+sha256:[0-9a-f]{12} .*rolled back$/m);
  } finally {
    await pod.stop();
  }
});

test('the first version Envoy ever sees is refused: the verdict says so loudly', TIMEOUT, async () => {
  const pod = await startPod({ lds: refusedLds });
  try {
    const verdict = await pod.watcher.waitForLog((l) => l.event === 'verdict', 'verdict on the initial file');
    assert.equal(verdict.outcome, 'rejected');
    assert.equal(verdict.rolledBack, false);
    assert.equal(verdict.level, 60);
    assert.match(String(verdict.msg), /REFUSED lds\.yaml version \S+, and no version of lds\.yaml was accepted before it/);
    assert.equal(await (running(pod)).get(pod.port), undefined);
  } finally {
    await pod.stop();
  }
});

test('a first version Envoy refuses on a proto constraint (port_value: 70000): it stays published, and the line, its Event and status say so (not "held back"); the validate hint is the plain one, as Envoy, with no dynamic listener at all, reports no listener error', TIMEOUT, async () => {
  const pod = await startPod({ lds: (port) => ldsYaml({ port, body: 'v1' }).replace(`port_value: ${String(port)}`, 'port_value: 70000') });
  try {
    const verdict = await pod.watcher.waitForLog((l) => l.event === 'verdict', 'verdict on the initial file');
    assert.equal(verdict.outcome, 'rejected', String(verdict.msg));
    assert.equal(verdict.rolledBack, false);
    const counters = (verdict.counters as Record<string, { rejected: number }>)['listener_manager.lds'];
    assert.equal(counters?.rejected, 1, 'a proto constraint is update_rejected, with no listener error state');
    // Envoy's own answer: no dynamic listener, no error state.
    assert.deepEqual(JSON.parse(await (await fetch(`${running(pod).adminUrl}/config_dump?resource=dynamic_listeners`)).text()), {});
    const msg = String(verdict.msg);
    assert.match(msg, /^Envoy REFUSED lds\.yaml version [^,]+, and no version of lds\.yaml was accepted before it, so there is nothing to put back: it stays published; Envoy does not run the listener of lds\.yaml, /);
    assert.ok(msg.endsWith(` validate ${refusedCopy(pod.target, 'lds.yaml', verdict.xdsVersion)} names the field and its line in the refused version kept there`) && !msg.includes('if it says'), msg);
    assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8').then((text) => text.includes('port_value: 70000')), true, 'the refused file stays published');
    assert.match(verdictOccurrence({ file: 'lds.yaml', version: String(verdict.xdsVersion), outcome: 'rejected', rolledBack: false, message: msg }).message, /: Envoy REFUSED lds\.yaml version [^,]+, and no version of lds\.yaml was accepted before it, so there is nothing to put back: it stays published; /);
    const status = await runCli(['status', '--to', pod.target]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /^lds\.yaml +\S+ \(refused, stays published: nothing accepted came before it\) /m, status.stdout);
    assert.doesNotMatch(status.stdout, /held back/, status.stdout);
    assert.match(status.stderr, /lds\.yaml \(Envoy refused it, and no version of it was accepted before, so there is nothing to put back: it stays published\)/);
  } finally {
    await pod.stop();
  }
});

test('admin unreachable: the verdict is unknown and publishing goes on', TIMEOUT, async () => {
  const [closed] = (await freePorts(1)) as [number];
  const pod = await startPod({
    lds: (port) => ldsYaml({ port, body: 'v1' }),
    watchArgs: ['--admin', `127.0.0.1:${String(closed)}`, '--verdict-timeout', '1s'],
  });
  try {
    const envoy = running(pod);
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': ldsYaml({ port: pod.port, body: 'v2' }) });
    await envoy.waitForBody(pod.port, 'v2');
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').length >= 1, 'a verdict');
    for (const line of verdicts(pod.watcher.logs, 'lds.yaml')) {
      assert.equal(line.outcome, 'unknown');
      assert.match(String(line.msg), /unreachable/);
    }
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': ldsYaml({ port: pod.port, body: 'v3' }) });
    await envoy.waitForBody(pod.port, 'v3');
  } finally {
    await pod.stop();
  }
});

test('no admin address anywhere: said once at start, verdicts unknown, Envoy still gets every change', TIMEOUT, async () => {
  const dirs = await makeTempDirs('envoy-verdict-noadmin-');
  const [port] = (await freePorts(1)) as [number];
  const writer = new AtomicWriter(dirs.source);
  await writer.write({ 'lds.yaml': ldsYaml({ port, body: 'v1' }) });
  assert.equal((await runCli(['copy', '--from', dirs.source, '--to', dirs.target])).code, 0);
  const envoy = await startEnvoy({ bootstrap: { text: bootstrapYaml({ lds: join(dirs.target, 'lds.yaml') }) } });
  const watcher = new CliProcess(['watch', '--from', dirs.source, '--to', dirs.target, '--ready-file', join(dirs.target, READY)]);
  try {
    await waitFor(() => existsSync(join(dirs.target, READY)), 'ready');
    await envoy.waitForBody(port, 'v1');
    await writer.write({ 'lds.yaml': ldsYaml({ port, body: 'v2' }) });
    await envoy.waitForBody(port, 'v2');
    await writer.write({ 'lds.yaml': ldsYaml({ port, body: 'v3' }) });
    await envoy.waitForBody(port, 'v3');
    // Without a bootstrap the file's Listener @type says it is the LDS file; each publish is judged unknown.
    await waitFor(() => verdicts(watcher.logs, 'lds.yaml').length >= 2, 'two unknown verdicts');
    assert.ok(verdicts(watcher.logs, 'lds.yaml').every((l) => l.outcome === 'unknown'));
    const said = watcher.logs.filter((l) => typeof l.msg === 'string' && l.msg.includes('verdict on published files will be unknown'));
    assert.equal(said.length, 1);
    assert.equal(said[0]?.level, 40);
  } finally {
    await watcher.stop();
    await envoy.stop();
    await rm(dirs.root, { recursive: true, force: true });
  }
});

test('a bootstrap change still logs the restart warning', TIMEOUT, async () => {
  const pod = await startPod({ lds: (port) => ldsYaml({ port, body: 'v1' }) });
  try {
    await pod.writer.write({ 'envoy.yaml': `${pod.bootstrapText}# changed\n`, 'lds.yaml': ldsYaml({ port: pod.port, body: 'v1' }) });
    await pod.watcher.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('bootstrap envoy.yaml changed: Envoy never reloads its bootstrap'), 'restart warning');
  } finally {
    await pod.stop();
  }
});

test('nested file sources: RDS named by the LDS file and EDS by the CDS file get their own verdicts', TIMEOUT, async () => {
  const rds = (body: string) => rdsYaml({ name: 'main', body });
  const cds = (target: string) =>
    [
      'resources:',
      '- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster',
      '  name: backend',
      '  type: EDS',
      `  eds_cluster_config: {service_name: backend, eds_config: {resource_api_version: V3, path_config_source: {path: ${JSON.stringify(join(target, 'eds.yaml'))}}}}`,
      '',
    ].join('\n');
  const eds = (port: number) =>
    `resources:\n- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n  cluster_name: backend\n  endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${String(port)}}}}}]}]\n`;
  const pod = await startPod({
    lds: (port, target) => ldsYaml({ port, body: '', rds: { name: 'main', path: join(target, 'rds.yaml') } }),
    extra: (target) => ({ 'rds.yaml': rds('r1'), 'cds.yaml': cds(target), 'eds.yaml': eds(1) }),
  });
  try {
    const envoy = running(pod);
    await envoy.waitForBody(pod.port, 'r1');
    const files = (body: string, edsPort: number) => ({
      'envoy.yaml': pod.bootstrapText,
      'lds.yaml': ldsYaml({ port: pod.port, body: '', rds: { name: 'main', path: join(pod.target, 'rds.yaml') } }),
      'rds.yaml': body,
      'cds.yaml': cds(pod.target),
      'eds.yaml': eds(edsPort),
    });
    // Every file Envoy reads was judged at start, each through its own subscription's stats.
    for (const file of ['lds.yaml', 'rds.yaml', 'cds.yaml', 'eds.yaml']) {
      const line = await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.file === file, `${file} verdict`);
      assert.equal(line.outcome, 'accepted', `${file}: ${String(line.msg)}`);
    }
    assert.equal(await envoy.textStat('http.listener_0.rds.main.version_text'), verdicts(pod.watcher.logs, 'rds.yaml')[0]?.xdsVersion);
    assert.equal(await envoy.textStat('cluster.backend.version_text'), verdicts(pod.watcher.logs, 'eds.yaml')[0]?.xdsVersion);

    await pod.writer.write(files(rds('r2'), 2));
    await envoy.waitForBody(pod.port, 'r2');
    await waitFor(() => verdicts(pod.watcher.logs, 'rds.yaml').length === 2 && verdicts(pod.watcher.logs, 'eds.yaml').length === 2, 'second verdicts');
    assert.equal(verdicts(pod.watcher.logs, 'rds.yaml')[1]?.outcome, 'accepted');
    assert.equal(verdicts(pod.watcher.logs, 'eds.yaml')[1]?.outcome, 'accepted');

    // A RouteConfiguration Envoy refuses (a status code must be a number): rolled back, r2 served.
    const good = await readFile(join(pod.target, 'rds.yaml'), 'utf8');
    await pod.writer.write(files(rds('r3').replace('status: 200', 'status: "abc"'), 2));
    const verdict = await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.file === 'rds.yaml' && l.outcome === 'rejected', 'rds rejected');
    assert.equal(verdict.rolledBack, true);
    assert.equal(await readFile(join(pod.target, 'rds.yaml'), 'utf8'), good);
    assert.deepEqual(await envoy.get(pod.port), { status: 200, body: 'r2' });
  } finally {
    await pod.stop();
  }
});

test('every stamped shape (CRLF, BOM, comments, ---, JSON) loads in Envoy, which reports the stamped version', TIMEOUT, async () => {
  const pod = await startPod({ lds: (port) => ldsYaml({ port, body: 'start' }) });
  try {
    const envoy = running(pod);
    await envoy.waitForBody(pod.port, 'start');
    const base = (body: string) => ldsYaml({ port: pod.port, body });
    const json = (body: string) => `${JSON.stringify(parseConfig(base(body)), null, 2)}\n`;
    const shapes: [string, string][] = [
      ['crlf', base('crlf').replace(/\n/g, '\r\n')],
      ['bom', `\uFEFF${base('bom')}`],
      ['comments', `# owned by team x\n\n%YAML 1.2\n---\n${base('comments')}`],
      ['json', json('json')],
    ];
    for (const [body, text] of shapes) {
      await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': text });
      await envoy.waitForBody(pod.port, body);
      const line = await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.outcome === 'accepted' && l.xdsVersion === stampVersion('lds.yaml', Buffer.from(text), sha256(Buffer.from(text))).version, `${body} accepted`);
      assert.match(String(line.xdsVersion), /^sha256:/);
      assert.equal(await envoy.textStat('listener_manager.lds.version_text'), line.xdsVersion);
    }
  } finally {
    await pod.stop();
  }
});

test('runWatch hands each verdict to onVerdict (the typed hook for Kubernetes Events)', TIMEOUT, async () => {
  const dirs = await makeTempDirs('envoy-verdict-hook-');
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const writer = new AtomicWriter(dirs.source);
  const bootstrapText = bootstrapYaml({ lds: join(dirs.target, 'lds.yaml'), admin: { port: adminPort } });
  await writer.write({ 'envoy.yaml': bootstrapText, 'lds.yaml': ldsYaml({ port, body: 'v1' }) });
  assert.equal((await runCli(['copy', '--from', dirs.source, '--to', dirs.target, '--bootstrap', 'envoy.yaml'])).code, 0);
  const envoy = await startEnvoy({ bootstrap: { path: join(dirs.target, 'envoy.yaml') } });
  const stop = new AbortController();
  const got: Verdict[] = [];
  const watching = runWatch({
    sourceDir: dirs.source,
    targetDir: dirs.target,
    logger: pino({ level: 'silent' }),
    bootstrapName: 'envoy.yaml',
    resyncMs: 60_000,
    signal: stop.signal,
    onVerdict: (verdict) => got.push(verdict),
  });
  try {
    await waitFor(() => got.length === 1, 'initial verdict');
    await writer.write({ 'envoy.yaml': bootstrapText, 'lds.yaml': await refusedLds(port) });
    await waitFor(() => got.length === 2, 'verdict on the refused file');
    const [first, second] = got;
    assert.ok(first !== undefined && second !== undefined);
    assert.deepEqual(Object.keys(first).sort(), ['file', 'latencyMs', 'message', 'outcome', 'rolledBack', 'sha256', 'version']);
    assert.equal(first.outcome, 'accepted');
    // The published content's sha256: what the last-accepted ConfigMap's marks compare.
    assert.equal(first.sha256, sha256(await readFile(join(dirs.target, '..envoy-xds-verdict', 'accepted', 'lds.yaml'))));
    assert.deepEqual(
      { file: second.file, version: second.version, previousVersion: second.previousVersion, outcome: second.outcome, rolledBack: second.rolledBack },
      { file: 'lds.yaml', version: second.version, previousVersion: first.version, outcome: 'rejected', rolledBack: true },
    );
    assert.match(String(second.version), /^example-2\+sha256:[0-9a-f]{12}$/);
    assert.match(second.message, /^Envoy rejected lds\.yaml version example-2/);
    assert.equal(typeof second.latencyMs, 'number');
  } finally {
    stop.abort('SIGTERM');
    assert.equal(await watching, 0);
    await envoy.stop();
    await rm(dirs.root, { recursive: true, force: true });
  }
});

test('status without a watcher state says where it looked and exits 1', TIMEOUT, async () => {
  const dirs = await makeTempDirs('envoy-verdict-status-');
  try {
    const status = await runCli(['status', '--to', dirs.target]);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /no verdict state at .*\.\.envoy-xds-verdict\/state\.json: is 'watch' running with --to /);
  } finally {
    await rm(dirs.root, { recursive: true, force: true });
  }
});

test("the bootstrap's admin over a unix socket (admin.address.pipe) is where verdicts come from", TIMEOUT, async () => {
  const dirs = await makeTempDirs('envoy-verdict-pipe-');
  const [port] = (await freePorts(1)) as [number];
  const socket = join(dirs.root, 'admin.sock');
  const writer = new AtomicWriter(dirs.source);
  const bootstrapText = bootstrapYaml({ lds: join(dirs.target, 'lds.yaml'), admin: { pipe: socket } });
  await writer.write({ 'envoy.yaml': bootstrapText, 'lds.yaml': ldsYaml({ port, body: 'v1' }) });
  assert.equal((await runCli(['copy', '--from', dirs.source, '--to', dirs.target, '--bootstrap', 'envoy.yaml'])).code, 0);
  const envoy = await startEnvoy({ bootstrap: { path: join(dirs.target, 'envoy.yaml') } });
  const watcher = new CliProcess(['watch', '--from', dirs.source, '--to', dirs.target, '--ready-file', join(dirs.target, READY), '--bootstrap', 'envoy.yaml']);
  try {
    await watcher.waitForLog((l) => l.msg === "reading Envoy's verdicts from its admin API" && l.admin === `unix:${socket}`, 'admin from the bootstrap');
    await writer.write({ 'envoy.yaml': bootstrapText, 'lds.yaml': ldsYaml({ port, body: 'v2' }) });
    await envoy.waitForBody(port, 'v2');
    await waitFor(() => verdicts(watcher.logs, 'lds.yaml').filter((l) => l.outcome === 'accepted').length === 2, 'two accepted verdicts');
  } finally {
    await watcher.stop();
    await envoy.stop();
    await rm(dirs.root, { recursive: true, force: true });
  }
});

test('a user who never bumps version_info: the update counters still tell accepted from rejected', TIMEOUT, async () => {
  const same = (port: number, body: string) => ldsYaml({ port, body, versionInfo: 'fixed' });
  const pod = await startPod({ lds: (port) => same(port, 'v1') });
  try {
    const envoy = running(pod);
    await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.outcome === 'accepted', 'initial accepted');
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': same(pod.port, 'v2') });
    await envoy.waitForBody(pod.port, 'v2');
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').length === 2, 'second verdict');
    assert.equal(verdicts(pod.watcher.logs, 'lds.yaml')[1]?.outcome, 'accepted');

    const refused = (await refusedLds(pod.port)).replace('version_info: "example-2"', 'version_info: "fixed"');
    await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, 'lds.yaml': refused });
    await waitFor(() => verdicts(pod.watcher.logs, 'lds.yaml').length === 3, 'third verdict');
    const third = verdicts(pod.watcher.logs, 'lds.yaml')[2];
    assert.equal(third?.outcome, 'rejected');
    assert.equal(third.rolledBack, true);
    assert.equal(await readFile(join(pod.target, 'lds.yaml'), 'utf8'), publishedText('lds.yaml', same(pod.port, 'v2')));
  } finally {
    await pod.stop();
  }
});
