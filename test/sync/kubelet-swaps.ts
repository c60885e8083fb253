// A kubelet in a process of its own for tests that read a ConfigMap volume while it is swapped:
// `node --import tsx test/sync/kubelet-swaps.ts DIR N` writes versions 1..N of swapPayload(version)
// into DIR by AtomicWriter, back to back, then exits 0. readSnapshot reads synchronously, so a
// writer in the reading process would never run during a read, as kubelet always can.
import { AtomicWriter, xdsFile } from './harness.js';

/** The keys of version `version`: two xDS files of 20 and 5 KB and a small text file. */
export function swapPayload(version: number): Record<string, string> {
  return {
    'a.yaml': xdsFile('cds', version, 20_000),
    'b.yaml': xdsFile('lds', version, 5_000),
    'c.txt': `# version: ${String(version)}\n`,
  };
}

if (process.argv[1]?.endsWith('kubelet-swaps.ts') === true) {
  const [dir, count] = process.argv.slice(2);
  if (dir === undefined || count === undefined) throw new Error('usage: kubelet-swaps.ts DIR N');
  const writer = new AtomicWriter(dir);
  for (let version = 1; version <= Number(count); version++) await writer.write(swapPayload(version));
}
