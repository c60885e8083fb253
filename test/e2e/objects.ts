// @kubernetes/client-node models are classes; typescript-eslint's
// no-unsafe-class-instance-assignment rejects object literals where they are expected.
// `plain<k8s.V1Pod>({...})` type-checks a literal against the model's (deep) structure instead.

/** Deep structural view of a client-node model class (Dates may be given as RFC 3339 strings). */
export type Plain<T> = T extends (infer U)[]
  ? Plain<U>[]
  : T extends Date
    ? T | string
    : T extends object
      ? { [K in keyof T]: Plain<T[K]> }
      : T;

/** A plain object, checked against model T, usable wherever the client expects a T. */
export function plain<T>(o: Plain<T>): T {
  return o as T;
}
