// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource): a number with an
// optional decimal suffix (n u m k M G T P E), binary suffix (Ki Mi Gi Ti Pi Ei) or exponent (e3).

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/** The grammar as a JSON-schema `pattern`, for validating the injector's config file. */
export const QUANTITY_PATTERN = QUANTITY.source;

const SUFFIX_MULTIPLIER: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * The value of a quantity in base units (cores, bytes), or undefined when the text is not a
 * quantity. A float is precise enough for what we use it for: comparing a request with a limit.
 */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (match === null) return undefined;
  const [, sign, digits, exponent, suffix] = match;
  const magnitude = Number(digits) * (exponent !== undefined ? 10 ** Number(exponent.slice(1)) : (SUFFIX_MULTIPLIER[suffix ?? ''] ?? 1));
  return sign === '-' ? -magnitude : magnitude;
}
