// The watcher runs in every Envoy Pod, so its memory is multiplied by the fleet. Between ConfigMap
// changes it holds nothing, yet V8 keeps a pass's garbage (file contents as strings, parsed YAML)
// until its heap grows enough to trigger a full collection. A full GC of this small heap takes
// 5-10 ms and hands the pages back; the watcher runs one when it goes idle, and after passes that
// left garbage (collectionAfterPass), once Envoy's verdict is in: a collection between a rename
// and the verdict delays both Envoy's reload (the CPU is shared) and the verdict.
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
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
 * Bytes V8 can still allocate in the young generation's new space before it has to stop and
 * scavenge (`new_space` of v8.getHeapSpaceStatistics(): about 1,006 KiB in all under
 * --max-semi-space-size=1, less what is live or garbage there now). Infinity if V8 does not say.
 */
export function youngRoomBytes(): number {
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_available_size;
  return Infinity;
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

// What a change of a few small files allocates in the young generation from the inotify event to
// the last verdict line: 330-390 KiB (bench:sync's small scenario, two files of 0.3 and 0.9 KiB:
// the pass, its baseline and poll requests to Envoy's admin API, the log lines). With less room
// than this margin left, V8 would scavenge in the middle of the pass or of Envoy's reload.
export const YOUNG_ROOM_BYTES = 512 * 1024;

/**
 * Whether to empty the young generation before a pass starts: when the room left in it
 * (youngRoomBytes()) would not hold a small change and its verdict. Then a scavenge of what is
 * there (0.2-0.5 ms, little of it alive) runs before the pass reads, not after its renames while
 * Envoy reloads. Idle work between changes (resyncs, the API source's checks) fills it.
 */
export function youngBeforePass(roomBytes: number): boolean {
  return roomBytes < YOUNG_ROOM_BYTES;
}

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
