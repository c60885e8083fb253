// The watcher runs in every Envoy Pod, so its memory is multiplied by the fleet. Between ConfigMap
// changes it holds nothing, yet V8 keeps a pass's garbage (file contents as strings, parsed YAML)
// until its heap grows enough to trigger a full collection. A full GC of this small heap takes
// 5-10 ms and hands the pages back; the watcher runs one when it goes idle, and after passes that
// left garbage (collectionAfterPass), once Envoy's verdict is in: a collection between a rename
// and the verdict delays both Envoy's reload (the CPU is shared) and the verdict.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type: 'major' | 'minor' }) => void;
let gc: Gc | undefined;
/** V8's used heap (bytes) right after the last full collection the watcher ran. */
let usedAfterCollection = 0;

function v8Gc(): Gc {
  if (gc === undefined) {
    // Node documents this way to reach V8's gc() without starting node with --expose-gc. Should a
    // future runtime refuse it, the watcher keeps working and only V8's own GC schedule applies.
    setFlagsFromString('--expose-gc');
    const found: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    gc = typeof found === 'function' ? (found as Gc) : () => undefined;
  }
  return gc;
}

/** A full collection (5-10 ms here): hands back what passes left in the old generation. */
export function releaseMemory(): void {
  v8Gc()();
  usedAfterCollection = getHeapStatistics().used_heap_size;
}

/**
 * A young-generation collection (a scavenge, 0.2-0.7 ms): empties the new space, so that the next
 * change's pass and verdict (a few hundred KiB) fit in it without V8 stopping to scavenge.
 */
export function releaseYoung(): void {
  v8Gc()({ type: 'minor' });
}

/**
 * Bytes the used V8 heap grew since the last collection the watcher ran: the garbage (and any new
 * live data) passes left since. Not the heap's size: that is mostly code and the modules' objects
 * (11-12 MiB committed at rest on Node 22), which no collection gives back.
 */
export function heapGrowthBytes(): number {
  return getHeapStatistics().used_heap_size - usedAfterCollection;
}

// A pass that read and parsed this much leaves megabytes of dead parse trees in the old generation
// (a 256 KiB xDS file parses into ~2 MiB of objects). Small passes are not affected.
export const LARGE_PASS_BYTES = 64 * 1024;
// Garbage worth a collection at the next quiet moment. A pass over a few small files leaves tens
// of KiB; the new space alone (--max-semi-space-size=1) swings by up to 1 MiB between scavenges.
export const GROWTH_COLLECT_BYTES = 3 * 1024 * 1024;
// Garbage that is collected at once, whatever is in flight: a stream of swaps with large files
// would otherwise grow the heap towards --max-old-space-size.
export const GROWTH_COLLECT_NOW_BYTES = 8 * 1024 * 1024;

export type Collection = 'full' | 'young';

export interface AfterPass {
  /** Bytes of changed files the pass read and parsed (SyncResult.changedBytes). */
  changedBytes: number;
  /** heapGrowthBytes() after the pass. */
  growthBytes: number;
  /** Another pass is already asked for (a burst of swaps): no quiet moment is coming. */
  passPending: boolean;
}

/**
 * What to collect after a pass, and when: `now`, or once Envoy's verdicts on what was published
 * are in (and no pass runs then), so that the collection lands between two changes instead of
 * between a rename and Envoy's reload of it. Undefined: nothing (the pass changed nothing).
 */
export function collectionAfterPass({ changedBytes, growthBytes, passPending }: AfterPass): { collect: Collection; when: 'now' | 'settled' } | undefined {
  if (changedBytes >= LARGE_PASS_BYTES || growthBytes >= GROWTH_COLLECT_BYTES) {
    // In a burst each pass's garbage would pile up under the next one's: collect in between.
    return { collect: 'full', when: growthBytes >= GROWTH_COLLECT_NOW_BYTES || passPending ? 'now' : 'settled' };
  }
  if (changedBytes > 0) return { collect: 'young', when: 'settled' };
  return undefined;
}
