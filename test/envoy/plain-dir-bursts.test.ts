// Bursts of edits a few ms apart with a PLAIN DIRECTORY source (issue 18 fresh-user loop): `mv` of
// good, bad (Envoy 1.40 refuses it: a port above 65535 or a duration "abc"), good, good onto
// SRC/lds.yaml, 0-6 ms apart. Each `mv` is a pass of its own; a pass may be replaced before its
// baseline is in, so one replaced publish's window holds the renames of others (superseded-fate.ts).
// Before the bursts, every good content is published once and judged (the watcher learns what
// Envoy did with each content: a content is judged alike at every read). Per burst:
//  - every refusal Envoy counts (listener_manager.lds.update_rejected + update_failure) is in a line;
//  - it is said as the bad version's, refused: the other contents in its window are ones Envoy
//    took, so never "not told which" (on the code before: nearly every burst with Envoy's admin
//    answers 60 ms late, some without);
//  - no line claims more accepted updates than Envoy counted, and the last line is the last
//    version, accepted, which Envoy runs.
// A good version replaced within ms whose read the counters cannot tell (another good one renamed
// in its window, Envoy reporting the newer one) gets no line: counted per burst as a diagnostic.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { LogLine } from '../sync/harness.js';
import { waitFor } from '../sync/harness.js';
import { publishedVersion, quiet, subscriptionCounters } from './verdict-cases.js';
import { startPlainDir } from './plain-dir.js';
import type { PlainDirPod } from './plain-dir.js';

const FOLDER = '20-refusal-replaced-before-verdict';
const BURSTS = Number(process.env.PLAIN_DIR_BURSTS ?? '12');
const LDS = 'listener_manager.lds';
const GOOD = ['lds-g0.yaml', 'lds-g1.yaml', 'lds-g2.yaml', 'lds-g3.yaml'] as const;
const BAD = ['lds-bad-port.yaml', 'lds-bad-duration.yaml'] as const;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ldsLines = (pod: PlainDirPod): LogLine[] => pod.watcher.logs.filter((l) => l.event === 'verdict' && l.file === 'lds.yaml');

/** Refusals the verdict lines report: a rejected line is one (or its `refusals`), an `unknown` one its `refusals`, plus each one's `refusedBefore`. */
function reported(lines: readonly LogLine[]): number {
  const count = (line: LogLine): number => (typeof line.refusals === 'number' ? line.refusals : line.outcome === 'rejected' ? 1 : 0);
  return lines.reduce((sum, line) => sum + count(line) + (typeof line.refusedBefore === 'number' ? line.refusedBefore : 0), 0);
}

const describe = (lines: readonly LogLine[]): string =>
  lines.map((l) => `    ${String(l.outcome)} ${String(l.xdsVersion)}${typeof l.refusals === 'number' ? ` refusals ${String(l.refusals)}` : ''}: ${String(l.msg).slice(0, 200)}`).join('\n');

/** Every good content published once, one at a time, each judged accepted. */
async function warmUp(pod: PlainDirPod): Promise<void> {
  await waitFor(() => ldsLines(pod).some((l) => l.outcome === 'accepted'), 'the first verdict on lds.yaml');
  for (const good of [...GOOD.slice(1), GOOD[0]]) {
    const version = await pod.stamped('lds.yaml', good);
    await pod.move('lds.yaml', good);
    await waitFor(() => ldsLines(pod).some((l) => l.outcome === 'accepted' && l.xdsVersion === version), `${good} accepted`, 60_000);
  }
  await quiet(pod);
}

/** `BURSTS` bursts of good / bad / good / good 0-6 ms apart; what went wrong, per burst (every burst said as a diagnostic). */
async function run(pod: PlainDirPod, t: TestContext): Promise<string[]> {
  const failed: string[] = [];
  const totals = { published: 0, lines: 0, accepted: 0, rejected: 0, unknown: 0, success: 0, refused: 0 };
  let g = 0;
  for (let k = 1; k <= BURSTS; k++) {
    const before = await subscriptionCounters(pod.envoy, LDS);
    const from = ldsLines(pod).length;
    const fromLog = pod.watcher.logs.length;
    const bad = BAD[k % 2] ?? BAD[0];
    const vBad = await pod.stamped('lds.yaml', bad);
    let last = '';
    for (const [i, kind] of ['good', 'bad', 'good', 'good'].entries()) {
      if (i > 0) await pause((k * 5 + i * 3) % 7);
      const name = kind === 'bad' ? bad : (GOOD[++g % 4] ?? GOOD[0]);
      if (kind === 'good') last = await pod.stamped('lds.yaml', name);
      await pod.move('lds.yaml', name);
    }
    await quiet(pod);
    const after = await subscriptionCounters(pod.envoy, LDS);
    const lines = ldsLines(pod).slice(from);
    const counted = { success: after.success - before.success, refused: after.refused - before.refused };
    const published = pod.watcher.logs.slice(fromLog).filter((l) => l.msg === 'published' && l.file === 'lds.yaml').length;
    const outcomes = (o: string): number => lines.filter((l) => l.outcome === o).length;
    const disk = await publishedVersion(pod, 'lds.yaml');
    const problems = [
      ...(reported(lines) === counted.refused ? [] : [`Envoy counted ${String(counted.refused)} refusals, the lines report ${String(reported(lines))}`]),
      ...(lines.some((l) => l.outcome === 'unknown') ? ['a line not told (unknown), though every other content was one Envoy took'] : []),
      ...(lines.filter((l) => l.outcome === 'rejected').every((l) => l.xdsVersion === vBad) ? [] : ['a rejected line on a good version']),
      ...(outcomes('accepted') <= counted.success ? [] : [`${String(outcomes('accepted'))} accepted lines, Envoy counted ${String(counted.success)} updates`]),
      ...(lines.at(-1)?.outcome === 'accepted' && lines.at(-1)?.xdsVersion === last && disk === last && after.versionText === last ? [] : [`the last line is not ${last} accepted, on disk and run by Envoy (disk ${disk}, Envoy ${after.versionText})`]),
    ];
    totals.published += published;
    totals.lines += lines.length;
    totals.accepted += outcomes('accepted');
    totals.rejected += outcomes('rejected');
    totals.unknown += outcomes('unknown');
    totals.success += counted.success;
    totals.refused += counted.refused;
    const shape = lines.map((l) => `${String(l.outcome)}${l.supersededBy === undefined ? '' : '(superseded)'}`).join(' ');
    t.diagnostic(`burst ${String(k)}: published ${String(published)}; Envoy counted ${String(counted.success)} updates, ${String(counted.refused)} refusals; lines: ${shape}${problems.length > 0 ? ' FAILED' : ''}`);
    if (problems.length === 0) continue;
    failed.push(`burst ${String(k)}: ${problems.join('; ')}\n${describe(lines)}`);
    if (process.env.PLAIN_DIR_LOG !== undefined) t.diagnostic(pod.watcher.logs.slice(fromLog).map((l) => JSON.stringify(l).slice(0, 700)).join('\n'));
  }
  t.diagnostic(`totals: ${JSON.stringify(totals)}`);
  return failed;
}

const FILES = { 'envoy.yaml': 'envoy.yaml', 'lds.yaml': 'lds-g0.yaml', 'cds.yaml': 'cds-g0.yaml' };

// 60 ms: Envoy's admin answers late (a loaded node, plain-dir.ts slowRelay), so a burst's passes
// rename before their baselines are in and one window holds the others' renames nearly every time.
for (const delayMs of [0, 60]) {
  test(`plain directory, good / bad / good / good 0-6 ms apart, Envoy's admin ${delayMs === 0 ? 'direct' : `${String(delayMs)} ms late`}, ${String(BURSTS)} bursts: every refusal Envoy counts is the bad version's line`, { timeout: 600_000 }, async (t) => {
    const pod = await startPlainDir(FOLDER, FILES, delayMs === 0 ? {} : { adminDelayMs: delayMs });
    try {
      await warmUp(pod);
      const failed = await run(pod, t);
      assert.deepEqual(failed, [], `${String(failed.length)} of ${String(BURSTS)} bursts failed:\n${failed.join('\n')}`);
    } finally {
      await pod.stop();
    }
  });
}
