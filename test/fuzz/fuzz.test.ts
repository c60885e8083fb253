// The short fuzz run inside `npm test` (a few thousand reviews); `npm run fuzz` sends 100,000.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { printReport, runFuzz } from './fuzz.js';

test('3,000 generated AdmissionReviews against the real server: no 5xx, uid echoed, every patch applies, names unique, status annotation set', { timeout: 600_000 }, async () => {
  const report = await runFuzz({ count: 3000, seed: Number(process.env.FUZZ_SEED ?? 4242) });
  const lines: string[] = [];
  printReport(report, (line) => lines.push(line));
  assert.deepEqual(report.failures, [], lines.join('\n'));
  assert.equal(report.sent, 3000);
  // The generators reach every outcome (otherwise the checks above check little).
  for (const decision of ['injected', 'allowed', 'denied', 'http-400']) assert.ok((report.byDecision[decision] ?? 0) > 0, `no ${decision} answer: ${lines.join('\n')}`);
});
