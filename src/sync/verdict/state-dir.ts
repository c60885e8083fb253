// The name of the verdict state directory in the target (state.ts), apart so that what names a
// path in it (validate-hint.ts, and through it messages.ts) imports nothing else of the state.

/** A `..` name is never a ConfigMap key, so Envoy never watches it and `watch` never publishes it. */
export const STATE_DIR = '..envoy-xds-verdict';
