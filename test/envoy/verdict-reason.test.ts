// Why Envoy refused a file, as Envoy 1.40 tells it: each kind of refusal is made for real, and the
// verdict (log line, `status`, the Event message) must carry Envoy's reason where its admin API has
// one, and otherwise name the line of Envoy's log that has it, a line Envoy really wrote.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, waitFor } from '../sync/harness.js';
import type { LogLine } from '../sync/harness.js';
import { verdictOccurrence } from '../../src/sync/watch/reporters.js';
import { parsePodLocalStatus } from '../../src/status/pod-local.js';
import { judgePod } from '../../src/status/rules.js';
import { ldsYaml, rdsYaml } from './envoy.js';
import { TIMEOUT, refusedLds, running, startPod, verdicts } from './pod.js';
import type { Pod } from './pod.js';
import { refusedCopy } from '../helpers/refused-copy.js';

const FAILURE = 'Filesystem config update failure: in ';
const REJECTED = 'Filesystem config update rejected';

/** Publishes `files` (the bootstrap kept) and returns the next verdict on `file` that is not accepted. */
async function refuse(pod: Pod, file: string, files: Record<string, string>): Promise<LogLine> {
  const before = verdicts(pod.watcher.logs, file).length;
  await pod.writer.write({ 'envoy.yaml': pod.bootstrapText, ...files });
  await waitFor(() => verdicts(pod.watcher.logs, file).length > before, `a verdict on ${file}`);
  const line = verdicts(pod.watcher.logs, file)[before];
  assert.ok(line !== undefined);
  assert.equal(line.outcome, 'rejected', String(line.msg));
  return line;
}

/**
 * The `validate` a refusal a schema check sees ends with (the refused version the watcher keeps,
 * outside a Pod this program by its path), run as an operator would; its output.
 */
function validateOf(pod: Pod, line: LogLine, file: string): string {
  const m = / ((\S+ )+validate (\S+)) names the field and its line in the refused version kept there$/.exec(String(line.msg));
  assert.ok(m !== null, `no validate in: ${String(line.msg)}`);
  // The refused version as kept, not the ConfigMap's file: that may hold a fix or a newer version by
  // now, nor refused/<file>: that may hold a newer refusal. The copy of exactly the content refused.
  assert.equal(m[3], refusedCopy(pod.target, file, line.xdsVersion), 'the refused version kept');
  const run = spawnSync('sh', ['-c', m[1] ?? ''], { encoding: 'utf8' });
  return `${run.stdout}${run.stderr}`;
}

/** Envoy's own log (harness: `<workDir>/envoy.log`), to check the line a verdict points at exists. */
async function envoyLog(pod: Pod): Promise<string> {
  return readFile(join(running(pod).workDir, 'envoy.log'), 'utf8');
}

/**
 * The entries of Envoy's log whose message starts with `start` (after Envoy's
 * `[time][thread][level][logger] [file:line] ` prefix). An entry runs to the next `[time]` line: a
 * proto validation error prints the refused resource over many lines before the reason.
 */
async function envoyLogLines(pod: Pod, start: string): Promise<string[]> {
  const entries = (await envoyLog(pod)).split(/\n(?=\[\d{4}-\d\d-\d\d )/);
  return entries.filter((entry) => entry.split('\n', 1)[0]?.includes(`] ${start}`) === true);
}

/** `ldsYaml` with the router first and a buffer filter after it: Envoy cannot build that listener. */
const routerNotLast = (port: number, body: string): string =>
  ldsYaml({ port, body }).replace(
    '        http_filters:\n',
    '        http_filters:\n' +
      '        - name: envoy.filters.http.router\n' +
      '          typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}\n' +
      '        - name: envoy.filters.http.buffer\n' +
      '          typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer, max_request_bytes: 1024}\n',
  );

/** The listener twice under one name (the second on another port). */
const duplicateListener = (port: number, body: string): string => {
  const one = ldsYaml({ port, body });
  const again = ldsYaml({ port: port + 1, body }).split('\n').slice(1).join('\n');
  return `${one}${again}`;
};

test('LDS: Envoy names duplicate listeners and listeners it cannot build; parse and proto-validation refusals point at its log', TIMEOUT, async () => {
  const pod = await startPod({ lds: (port) => ldsYaml({ port, body: 'v1' }) });
  try {
    const envoy = running(pod);
    await envoy.waitForBody(pod.port, 'v1');
    await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.outcome === 'accepted', 'v1 accepted');
    const ldsPath = join(pod.target, 'lds.yaml');

    // The shared case: the file does not parse into a DiscoveryResponse (update_failure). Envoy's
    // admin API has no reason; the verdict names the log line, and Envoy did write it.
    const parse = await refuse(pod, 'lds.yaml', { 'lds.yaml': await refusedLds(pod.port) });
    assert.equal(parse.reason, undefined);
    assert.equal(parse.envoyLog, `${FAILURE}${ldsPath}`);
    assert.ok(String(parse.msg).includes(`Envoy's admin API does not say why; Envoy's log does: grep -A 60 "${FAILURE}${ldsPath}"; `), String(parse.msg));
    // A schema check sees a file that does not parse: the line points at validate, which names the field.
    assert.match(validateOf(pod, parse, 'lds.yaml'), /lds\.yaml:\d+:\d+: error: .*listener_filters_timeout/);
    const parseLines = await envoyLogLines(pod, `${FAILURE}${ldsPath}`);
    assert.equal(parseLines.length, 1, await envoyLog(pod));
    // (protobuf puts random runs of spaces into its parse errors, so that nobody matches them exactly)
    assert.match(parseLines[0] ?? '', /listener_filters_timeout: .*duration\s+must\s+start\s+with\s+an\s+integer/);

    // A duplicate listener name: the LDS API refuses it and its error state says so.
    const dup = await refuse(pod, 'lds.yaml', { 'lds.yaml': duplicateListener(pod.port, 'dup') });
    assert.equal(dup.reason, 'duplicate listener listener_0 found');
    assert.equal(dup.reasonPossiblyEarlier, undefined);
    assert.equal(dup.envoyLog, REJECTED);
    assert.equal(dup.rolledBack, true);
    assert.ok(String(dup.msg).endsWith('. Envoy says: duplicate listener listener_0 found'), String(dup.msg));
    assert.equal((await envoyLogLines(pod, `${REJECTED}: Error adding/updating listener(s) listener_0: duplicate listener listener_0 found`)).length, 1);
    // Envoy applied the first copy (LdsApiImpl: "the first of these duplicates has already been
    // successfully applied"); the rollback, a full update with v1, undoes it.
    await envoy.waitForBody(pod.port, 'v1');

    // A listener Envoy cannot build (the router must be the last HTTP filter).
    const build = await refuse(pod, 'lds.yaml', { 'lds.yaml': routerNotLast(pod.port, 'build') });
    assert.equal(build.reason, 'listener listener_0: Error: terminal filter named envoy.filters.http.router of type envoy.filters.http.router must be the last filter in a http filter chain.');
    assert.equal(build.envoyLog, REJECTED);
    // The LDS API refused these: no schema sees them, and the lines say nothing of validate.
    assert.doesNotMatch(`${String(dup.msg)}\n${String(build.msg)}`, /validate/);

    // The Event an operator sees carries it.
    const event = verdictOccurrence({ file: 'lds.yaml', version: String(build.xdsVersion), outcome: 'rejected', rolledBack: true, message: String(build.msg), reason: build.reason });
    assert.equal(event.reason, 'XdsRolledBack');
    assert.match(event.message, /Envoy says: listener listener_0: Error: terminal filter named envoy\.filters\.http\.router .* must be the last filter in a http filter chain\.$/);

    // A proto constraint (port_value <= 65535) fails while decoding, before the LDS API: no reason in
    // the admin API (and none left from the refusals before: the rollbacks cleared them).
    const proto = await refuse(pod, 'lds.yaml', { 'lds.yaml': ldsYaml({ port: 70000, body: 'proto' }) });
    assert.equal(proto.reason, undefined);
    assert.equal(proto.envoyLog, REJECTED);
    const protoLines = (await envoyLogLines(pod, REJECTED)).filter((entry) => entry.includes('Proto constraint validation failed'));
    assert.equal(protoLines.length, 1, await envoyLog(pod));
    assert.match(protoLines[0] ?? '', /PortValue: value must be less than or equal to 65535/);
    // Refused before the LDS API (no error state of its own): a schema check of the refused version
    // kept sees it, at its line in the ConfigMap's key (the version_info line the watcher added left out).
    const protoLine = ldsYaml({ port: 70000, body: 'proto' }).split('\n').findIndex((l) => l.includes('70000')) + 1;
    assert.equal((await readFile(join(pod.target, '..envoy-xds-verdict', 'refused', 'lds.yaml'), 'utf8')).split('\n').findIndex((l) => l.includes('70000')) + 1, protoLine + 1, 'the kept copy has the added version_info line');
    assert.match(validateOf(pod, proto, 'lds.yaml'), new RegExp(`lds\\.yaml:${String(protoLine)}:\\d+: error: .*port_value: value must be less than or equal to 65535`));

    // Still serving v1 throughout; `status` says where the last refusal's reason is, and the
    // validate that names the field, as the verdict's line does.
    assert.deepEqual(await envoy.get(pod.port), { status: 200, body: 'v1' });
    const validate = /; ([^;]+ validate \S+) names the field and its line in the refused version kept there$/.exec(String(proto.msg))?.[1];
    assert.ok(validate !== undefined, String(proto.msg));
    const expected = `\nWHY ENVOY REFUSED\nlds.yaml ${String(proto.xdsVersion)}: Envoy's admin API does not say why; Envoy's log does: grep -A 60 "${REJECTED}"; ${validate} names the field and its line in the refused version kept there\n`;
    assert.ok(String(proto.msg).endsWith(`Envoy's admin API does not say why; Envoy's log does: grep -A 60 "${REJECTED}"; ${validate} names the field and its line in the refused version kept there`), String(proto.msg));
    let shown = '';
    await waitFor(async () => (shown = (await runCli(['status', '--to', pod.target])).stdout).endsWith(expected), 'status says where the reason is').catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${shown}`);
    });
    const json = JSON.parse((await runCli(['status', '--to', pod.target, '--json'])).stdout) as { files: { file: string; verdict?: { reason?: string; envoyLog?: string; schema?: string; validate?: string } }[] };
    const kept = json.files.find((f) => f.file === 'lds.yaml')?.verdict;
    assert.deepEqual([kept?.envoyLog, kept?.schema, kept?.validate], [REJECTED, 'sees', validate]);
    // The workload view reads the same Pod-local status: its WHY line gives its own validate, in the same words.
    const pod0 = parsePodLocalStatus((await runCli(['status', '--to', pod.target, '--json'])).stdout);
    const judged = judgePod({ pod: 'p', namespace: 'ns', configMap: 'cm', source: 'volume', wanted: [{ file: 'lds.yaml', version: String(proto.xdsVersion) }], local: pod0 });
    assert.equal(judged.state, 'REJECTED');
    assert.match(judged.reason ?? '', /; kubectl get configmap cm -n ns -o yaml \| kubectl exec -i -n ns p -c envoy-xds-watch -- envoy-xds-injector validate -f - names the field and its line$/);
  } finally {
    await pod.stop();
  }
});

test("LDS: an error state left by an earlier refusal is not this file's reason", TIMEOUT, async () => {
  // The first version is refused (nothing to roll back to, so Envoy's error state stays).
  const pod = await startPod({ lds: (port) => routerNotLast(port, 'first') });
  try {
    const first = await pod.watcher.waitForLog((l) => l.event === 'verdict', 'verdict on the first version');
    assert.equal(first.outcome, 'rejected');
    assert.equal(first.rolledBack, false);
    assert.match(String(first.reason), /^listener listener_0: Error: terminal filter named envoy\.filters\.http\.router/);
    assert.match(String(first.msg), /REFUSED lds\.yaml version \S+, and no version of lds\.yaml was accepted before it.*\. Envoy says: listener listener_0: Error: terminal filter/);

    // Refused while decoding: Envoy still reports the first version's error, with its older time.
    const proto = await refuse(pod, 'lds.yaml', { 'lds.yaml': ldsYaml({ port: 70000, body: 'proto' }) });
    assert.equal(proto.reason, undefined, String(proto.msg));
    assert.equal(proto.envoyLog, REJECTED);
    const dump = (await running(pod).configDump('resource=dynamic_listeners')) as { configs: { error_state?: { details?: string } }[] };
    assert.ok(dump.configs.some((c) => c.error_state?.details?.includes('must be the last filter') === true), JSON.stringify(dump).slice(0, 500));

    // Duplicate names carry no name or time: the same text again is flagged as possibly earlier.
    const dup = await refuse(pod, 'lds.yaml', { 'lds.yaml': duplicateListener(pod.port, 'dup') });
    assert.equal(dup.reason, 'duplicate listener listener_0 found');
    assert.equal(dup.reasonPossiblyEarlier, undefined);
    const dupAgain = await refuse(pod, 'lds.yaml', { 'lds.yaml': duplicateListener(pod.port, 'dup again') });
    assert.equal(dupAgain.reason, 'duplicate listener listener_0 found');
    assert.equal(dupAgain.reasonPossiblyEarlier, true);
    assert.match(String(dupAgain.msg), /Envoy says \(about this or an earlier refused version\): duplicate listener listener_0 found$/);

    // `status` and its JSON say it too.
    const expected = `\nWHY ENVOY REFUSED\nlds.yaml ${String(dupAgain.xdsVersion)}: Envoy says (about this or an earlier refused version): duplicate listener listener_0 found\n`;
    await waitFor(async () => (await runCli(['status', '--to', pod.target])).stdout.endsWith(expected), 'status has the reason');
    const json = JSON.parse((await runCli(['status', '--to', pod.target, '--json'])).stdout) as { files: { file: string; verdict?: { reason?: string; reasonPossiblyEarlier?: boolean } }[] };
    assert.deepEqual(json.files.find((f) => f.file === 'lds.yaml')?.verdict?.reason, 'duplicate listener listener_0 found');
  } finally {
    await pod.stop();
  }
});

test('CDS, RDS, EDS: Envoy keeps no reason in its admin API; the verdict names the log line Envoy wrote', TIMEOUT, async () => {
  const cluster = (name: string, address: string) =>
    `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: ${name}\n  type: STATIC\n  load_assignment: {cluster_name: ${name}, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: ${address}, port_value: 1}}}}]}]}\n`;
  const edsCluster = (target: string) =>
    `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: backend\n  type: EDS\n  eds_cluster_config: {service_name: backend, eds_config: {resource_api_version: V3, path_config_source: {path: ${JSON.stringify(join(target, 'eds.yaml'))}}}}\n`;
  const cds = (target: string, ...more: string[]) => `resources:\n${edsCluster(target)}${more.join('')}`;
  const eds = (address: string) =>
    `resources:\n- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n  cluster_name: backend\n  endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: ${address}, port_value: 1}}}}]}]\n`;
  const rds = (body: string) => rdsYaml({ name: 'main', body });
  const pod = await startPod({
    lds: (port, target) => ldsYaml({ port, body: '', rds: { name: 'main', path: join(target, 'rds.yaml') } }),
    extra: (target) => ({ 'rds.yaml': rds('r1'), 'cds.yaml': cds(target, cluster('static', '127.0.0.1')), 'eds.yaml': eds('127.0.0.1') }),
  });
  try {
    const envoy = running(pod);
    await envoy.waitForBody(pod.port, 'r1');
    for (const file of ['lds.yaml', 'rds.yaml', 'cds.yaml', 'eds.yaml']) {
      const line = await pod.watcher.waitForLog((l) => l.event === 'verdict' && l.file === file, `${file} verdict`);
      assert.equal(line.outcome, 'accepted', `${file}: ${String(line.msg)}`);
    }
    const files = { 'lds.yaml': ldsYaml({ port: pod.port, body: '', rds: { name: 'main', path: join(pod.target, 'rds.yaml') } }), 'rds.yaml': rds('r1'), 'cds.yaml': cds(pod.target, cluster('static', '127.0.0.1')), 'eds.yaml': eds('127.0.0.1') };
    const kinds: { file: string; content: string; logged: RegExp }[] = [
      { file: 'cds.yaml', content: cds(pod.target, cluster('static', 'not-an-ip')), logged: /Error adding\/updating cluster\(s\) static: malformed IP address: not-an-ip/ },
      { file: 'cds.yaml', content: cds(pod.target, cluster('static', '127.0.0.1'), cluster('static', '127.0.0.1')), logged: /Error adding\/updating cluster\(s\) static: duplicate cluster static found/ },
      { file: 'rds.yaml', content: `${rds('r2')}  - name: all2\n    domains: ["*"]\n    routes: [{match: {prefix: "/"}, direct_response: {status: 200}}]\n`, logged: /Only a single wildcard domain is permitted in route main/ },
      { file: 'eds.yaml', content: eds('not-an-ip'), logged: /malformed IP address: not-an-ip/ },
    ];
    for (const kind of kinds) {
      const line = await refuse(pod, kind.file, { ...files, [kind.file]: kind.content });
      assert.equal(line.reason, undefined, `${kind.file}: ${String(line.msg)}`);
      assert.equal(line.envoyLog, REJECTED, kind.file);
      assert.equal(line.rolledBack, true, kind.file);
      // No reason kept: validate is for when the log says it was a proto constraint (none of these is).
      assert.match(String(line.msg), new RegExp(`Envoy's admin API does not say why; Envoy's log does: grep -A 60 "${REJECTED}"; if it says "Proto constraint validation failed", .* validate \\S+ names the field and its line in the refused version kept there$`), String(line.msg));
      await waitFor(async () => (await envoyLogLines(pod, REJECTED)).some((l) => kind.logged.test(l)), `Envoy's log line for ${kind.file}: ${String(kind.logged)}`);
      await envoy.waitForBody(pod.port, 'r1');
    }
  } finally {
    await pod.stop();
  }
});
