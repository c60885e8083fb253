// Preloaded into a watcher process (`node --import tsx --import ./wall-clock-step.ts ...`) to step
// its wall clock as NTP or a resumed VM would, without touching the machine's clock (shared, and
// root-only): each SIGUSR2 moves Date (Date.now(), new Date()) by WALL_CLOCK_STEP_MS milliseconds
// (default one hour back). What a real step leaves alone is left alone here too: performance.now(),
// timers (libuv's monotonic clock), and TLS certificate checks (OpenSSL reads the system time).
const RealDate = Date;
const stepMs = Number(process.env.WALL_CLOCK_STEP_MS ?? -3_600_000);
let offsetMs = 0;

class SteppedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + offsetMs);
    else super(...(args as [string | number | Date]));
  }

  static override now(): number {
    return RealDate.now() + offsetMs;
  }
}

globalThis.Date = SteppedDate as DateConstructor;
process.on('SIGUSR2', () => {
  offsetMs += stepMs;
});
