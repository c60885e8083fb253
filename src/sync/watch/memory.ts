// The watcher runs in every Envoy Pod, so its memory is multiplied by the fleet. Between ConfigMap
// changes it holds nothing, yet V8 keeps a pass's garbage (file contents as strings, parsed YAML)
// until its heap grows enough to trigger a full collection. A full GC of this small heap takes a
// few milliseconds and hands the pages back; the watcher runs one when it goes idle.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

export function releaseMemory(): void {
  if (collect === undefined) {
    // Node documents this way to reach V8's gc() without starting node with --expose-gc. Should a
    // future runtime refuse it, the watcher keeps working and only V8's own GC schedule applies.
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    collect = typeof gc === 'function' ? (gc as () => void) : () => undefined;
  }
  collect();
}

// Above this much committed V8 heap, collect right away rather than wait for the watcher to idle:
// a stream of swaps with large files would otherwise grow it to --max-old-space-size.
const HEAP_SOFT_LIMIT_BYTES = 12 * 1024 * 1024;

export function heapAboveSoftLimit(): boolean {
  return getHeapStatistics().total_heap_size > HEAP_SOFT_LIMIT_BYTES;
}
