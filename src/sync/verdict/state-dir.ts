// The name of the verdict state directory in the target (state.ts), apart so that what names a
// path in it (validate-hint.ts, and through it messages.ts) imports nothing else of the state.

/** A `..` name is never a ConfigMap key, so Envoy never watches it and `watch` never publishes it. */
export const STATE_DIR = '..envoy-xds-verdict';

/**
 * The directory under `refused/` that holds the refused content whose version carries `key` (12
 * hex: refused-versions.ts refusedKey), e.g. `..sha256-3f2a9c1b7e4d`. A `..` name: never a ConfigMap
 * key (no clash with `refused/<file>`), and `validate` on a directory walks past it.
 */
export const refusedVersionDir = (key: string): string => `..sha256-${key}`;
