// npm run bench:inject — `inject -f FILE` (the compiled CLI, as the image runs it) against its floor
// (bench/inject-floor.ts: the same stream parsed, edited by the same patch and printed with the
// `yaml` library), side by side in one run, on 1, 500 and 20,000 annotated Deployments
// (bench/inject-input.ts). Each run is a fresh process writing into a pipe the bench drains.
//
// Prints per scenario: wall time (median of the runs, process start to exit) for both, their ratio
// (target: inject ≤ 1.5 × floor) and peak RSS (the process's maxRSS) for both, which should not grow
// with the number of documents (both stream). Figures only: no assertion.
// BENCH_RUNS (default 5) runs the small scenarios; BENCH_LARGE_RUNS (default 1) the 20,000 one.
// BENCH_SIZES (default "1,500,20000") picks the scenarios.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import jsonPatch from 'fast-json-patch';
import ts from 'typescript';
import { parseDocument } from 'yaml';
import { defaultConfig, injectManifest } from '../src/inject/index.js';
import { repoRoot } from '../test/sync/harness.js';
import { buildApp } from './app.js';
import { deployment, deployments } from './inject-input.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LARGE_RUNS = Number(process.env.BENCH_LARGE_RUNS ?? 1);
const SIZES = (process.env.BENCH_SIZES ?? '1,500,20000').split(',').map(Number);

// Reports the process's peak RSS on fd 2 as its last line when it exits.
const MAX_RSS_MARK = 'bench-max-rss-kib=';
const PRELOAD = `data:text/javascript,${encodeURIComponent(
  `import { writeSync } from 'node:fs'; process.on('exit', () => { try { writeSync(2, '\\n${MAX_RSS_MARK}' + process.resourceUsage().maxRSS + '\\n'); } catch {} });`,
)}`;

interface Run {
  ms: number;
  rssKiB: number;
  bytes: number;
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', PRELOAD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      const rss = new RegExp(`${MAX_RSS_MARK}(\\d+)`).exec(stderr)?.[1];
      if (code !== 0 || rss === undefined) {
        reject(new Error(`${args.join(' ')} exited ${String(code)}: ${stderr.slice(-2000)}`));
        return;
      }
      resolve({ ms, rssKiB: Number(rss), bytes });
    });
  });
}

/** The patch injection makes to one Deployment, for the floor to apply with the yaml library. */
function injectionPatch(version: string): unknown[] {
  const original = parseDocument(deployment(0), { version: '1.1' }).toJS() as object;
  const result = injectManifest(original, defaultConfig(version));
  if (result.decision !== 'injected') throw new Error(`the bench Deployment was not injected: ${result.decision}`);
  return jsonPatch.compare(original, result.document).map((op) => ({
    ...op,
    path: op.path.split('/').slice(1).map(jsonPatch.unescapePathComponent).map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
  }));
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const pad = (text: string, width: number): string => text.padStart(width);

async function main(): Promise<void> {
  const mainJs = buildApp('inject-app');
  const dir = await mkdtemp(join(tmpdir(), 'envoy-xds-bench-inject-'));
  try {
    const version = (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    const floorDir = join(repoRoot, '.bench', 'inject-floor');
    await mkdir(floorDir, { recursive: true });
    const floorSource = await readFile(join(repoRoot, 'bench/inject-floor.ts'), 'utf8');
    const floorJs = join(floorDir, 'floor.mjs');
    await writeFile(floorJs, ts.transpileModule(floorSource, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
    const patchFile = join(dir, 'patch.json');
    await writeFile(patchFile, JSON.stringify(injectionPatch(version)));

    console.log(`bench:inject — node ${process.version}; median of ${String(RUNS)} runs (${String(LARGE_RUNS)} for 20,000); wall time from process start to exit`);
    console.log(`${'Deployments'.padEnd(12)}${pad('MiB in', 8)}${pad('inject -f', 12)}${pad('floor', 10)}${pad('ratio', 7)}${pad('inject RSS', 12)}${pad('floor RSS', 11)}${pad('MiB out', 9)}`);
    for (const count of SIZES) {
      const file = join(dir, `deployments-${String(count)}.yaml`);
      const text = deployments(count);
      await writeFile(file, text);
      const runs = count >= 20_000 ? LARGE_RUNS : RUNS;
      const ours: Run[] = [];
      const floor: Run[] = [];
      // Alternate, so background load on a shared machine hits both alike.
      for (let i = 0; i < runs; i++) {
        ours.push(await run([mainJs, 'inject', '-f', file]));
        floor.push(await run([floorJs, file, patchFile]));
      }
      const [ms, floorMs] = [median(ours.map((r) => r.ms)), median(floor.map((r) => r.ms))];
      const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
      console.log(
        `${String(count).padEnd(12)}${pad(mib(Buffer.byteLength(text)), 8)}${pad(`${ms.toFixed(0)} ms`, 12)}${pad(`${floorMs.toFixed(0)} ms`, 10)}${pad(`${(ms / floorMs).toFixed(2)}×`, 7)}` +
          `${pad(`${(Math.max(...ours.map((r) => r.rssKiB)) / 1024).toFixed(0)} MiB`, 12)}${pad(`${(Math.max(...floor.map((r) => r.rssKiB)) / 1024).toFixed(0)} MiB`, 11)}${pad(mib(ours[0]?.bytes ?? 0), 9)}`,
      );
      await rm(file);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
