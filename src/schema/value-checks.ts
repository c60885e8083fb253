// The checks of one decoded value against its field's rules (pgv.ts evaluates the rules) and
// enum facts: each returns PGV's message, or pushes its finding.
import type { Any, Duration } from '@bufbuild/protobuf/wkt';
import type { RawFinding, Segment } from './findings.js';
import { wrapperValue, type FieldAccess } from './layout.js';
import { checkDuration, checkNumber, checkString, durationNanos } from './pgv.js';
import type { FieldPlan, KindRules } from './plan.js';

/** A scalar or enum value (bigint for 64-bit integers) against its rule kind. */
export function checkScalar({ kind, rules, numeric }: KindRules, value: unknown, plan: FieldPlan): string | undefined {
  if (numeric && (typeof value === 'number' || typeof value === 'bigint')) return checkNumber(value, rules);
  if (kind === 'string' && typeof value === 'string') return checkString(value, rules);
  if (kind === 'bool' && rules.const !== undefined && value !== rules.const) return `value must equal ${JSON.stringify(rules.const)}`;
  if (kind === 'enum' && typeof value === 'number') {
    const { field } = plan;
    const enumDesc = field.fieldKind === 'enum' || (field.fieldKind === 'list' && field.listKind === 'enum') ? field.enum : undefined;
    if (rules.definedOnly === true && enumDesc && !enumDesc.values.some((v) => v.number === value)) return 'value must be one of the defined enum values';
    const names = (list: unknown): number[] => (Array.isArray(list) ? list.map(Number) : []);
    if (Array.isArray(rules.in) && rules.in.length > 0 && !names(rules.in).includes(value)) return `value must be in list ${JSON.stringify(rules.in)}`;
    if (names(rules.notIn).includes(value)) return `value must not be in list ${JSON.stringify(rules.notIn)}`;
  }
  return undefined;
}

const WRAPPED = /^google\.protobuf\.(Double|Float|Int64|UInt64|Int32|UInt32|Bool|String)Value$/;

/**
 * A message value (`held`: what the decoded message holds for it, see layout.ts) of type
 * `typeName` against its rule kind: durations, Any type URLs, wrapped scalars.
 */
export function checkMessageValue({ kind, rules, numeric }: KindRules, typeName: string, held: unknown, access: FieldAccess): string | undefined {
  if (kind === 'duration' && typeName === 'google.protobuf.Duration') {
    const d = held as Duration;
    return checkDuration(durationNanos(d.seconds, d.nanos), rules);
  }
  if (kind === 'any' && typeName === 'google.protobuf.Any') {
    const url = (held as Any).typeUrl;
    if (Array.isArray(rules.in) && rules.in.length > 0 && !rules.in.includes(url)) return `type URL must be in list [${rules.in.join(' ')}]`;
    if (Array.isArray(rules.notIn) && rules.notIn.includes(url)) return `type URL must not be in list [${rules.notIn.join(' ')}]`;
    return undefined;
  }
  if (WRAPPED.test(typeName)) {
    const value = wrapperValue(access, held);
    if (numeric && (typeof value === 'number' || typeof value === 'bigint')) return checkNumber(value, rules);
    if (kind === 'string' && typeof value === 'string') return checkString(value, rules);
  }
  return undefined;
}

/**
 * An enum name the enum does not have: Envoy loads the file and leaves the field at its default
 * (after a strict parse fails, its relaxed parse skips unknown enum names as unknown fields, so an
 * Envoy started with --reject-unknown-dynamic-fields refuses the file: "has unknown fields").
 * `refused`: undefined for a warning; else it is an error, and this says why after the name.
 */
export function unknownEnumName(findings: RawFinding[], refused: string | undefined, plan: FieldPlan, json: unknown, path: Segment[]): void {
  const { field } = plan;
  const enumDesc = field.fieldKind === 'enum' ? field.enum : undefined;
  if (!enumDesc || typeof json !== 'string' || plan.enumNames?.has(json) === true) return;
  const values = enumDesc.values.map((v) => v.name).join(', ');
  findings.push({
    severity: refused === undefined ? 'warning' : 'error',
    path: [...path],
    message: refused === undefined
      ? `unknown value "${json}" of ${enumDesc.typeName}: Envoy ignores it and keeps the default (values: ${values})`
      : `unknown value "${json}" of ${enumDesc.typeName}${refused} (values: ${values})`,
  });
}

export function deprecatedEnumValue(findings: RawFinding[], plan: FieldPlan, value: number, path: Segment[]): void {
  const { field } = plan;
  const enumDesc = field.fieldKind === 'enum' ? field.enum : undefined;
  const entry = plan.enumByNumber?.get(value);
  if (entry?.proto.options?.deprecated === true) {
    findings.push({ severity: 'warning', path: [...path], message: `${enumDesc?.typeName}.${entry.name} is deprecated: Envoy warns "Using deprecated option"` });
  }
}
