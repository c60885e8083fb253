// `--resync 60s`: the duration syntax Kubernetes users know (Go's time.ParseDuration subset).
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/** Parses `500ms`, `60s`, `2m`, `1h`, `1m30s`; a bare number is seconds. Undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, value, unit] of text.matchAll(PART)) total += Number(value) * (UNITS[unit ?? ''] ?? Number.NaN);
  return Number.isFinite(total) ? total : undefined;
}
