/**
 * EventBridge event-pattern matching, as `events:TestEventPattern` does it, for the subset the
 * drainer's patterns (and the tests) use: exact values, arrays of alternatives, nested objects,
 * `prefix`, `suffix`, `equals-ignore-case`, `anything-but` (a value, a list or a prefix), `exists`.
 * A field of the event that is an array matches when any element matches. Other operators (numeric,
 * cidr, wildcard, $or) are refused as an invalid pattern rather than matched wrongly.
 */

export class InvalidPatternError extends Error {
  override name = 'InvalidEventPatternException';
}

type Json = Record<string, unknown>;

/** Whether `event` matches `pattern` (both parsed JSON). Throws InvalidPatternError for a bad pattern. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (!isObject(pattern)) throw new InvalidPatternError('Event pattern is not a JSON object');
  return matchObject(pattern, isObject(event) ? event : {}, '');
}

function matchObject(pattern: Json, event: Json, path: string): boolean {
  return Object.entries(pattern).every(([key, rule]) => {
    const where = path ? `${path}.${key}` : key;
    const present = Object.hasOwn(event, key);
    const value = event[key];
    if (isObject(rule)) return present && isObject(value) && matchObject(rule, value, where);
    if (!Array.isArray(rule)) {
      throw new InvalidPatternError(`"${where}" must be an object or an array of match values`);
    }
    if (rule.length === 0) throw new InvalidPatternError(`"${where}": empty arrays are not allowed`);
    return rule.some((alternative) => matchAlternative(alternative, present, value, where));
  });
}

function matchAlternative(alternative: unknown, present: boolean, value: unknown, where: string): boolean {
  if (!isObject(alternative)) {
    return present && anyValue(value, (v) => v === alternative);
  }
  const [operator, ...more] = Object.keys(alternative);
  if (operator === undefined || more.length > 0) {
    throw new InvalidPatternError(`"${where}": a match object holds exactly one operator`);
  }
  const operand = alternative[operator];
  switch (operator) {
    case 'exists':
      if (typeof operand !== 'boolean')
        throw new InvalidPatternError(`"${where}": exists takes true or false`);
      return operand === (present && value !== null && !isObject(value));
    case 'prefix':
      return present && anyValue(value, (v) => typeof v === 'string' && v.startsWith(text(operand, where)));
    case 'suffix':
      return present && anyValue(value, (v) => typeof v === 'string' && v.endsWith(text(operand, where)));
    case 'equals-ignore-case':
      return (
        present &&
        anyValue(
          value,
          (v) => typeof v === 'string' && v.toLowerCase() === text(operand, where).toLowerCase(),
        )
      );
    case 'anything-but':
      return present && anyValue(value, (v) => !excluded(operand, v, where));
    default:
      throw new InvalidPatternError(`"${where}": unsupported operator "${operator}"`);
  }
}

/** Whether `anything-but`'s operand (a value, a list of values, or `{ prefix }`) names `value`. */
function excluded(operand: unknown, value: unknown, where: string): boolean {
  if (Array.isArray(operand)) return operand.includes(value);
  if (isObject(operand)) {
    if (Object.keys(operand).length !== 1 || !('prefix' in operand)) {
      throw new InvalidPatternError(`"${where}": anything-but takes a value, a list or { prefix }`);
    }
    return typeof value === 'string' && value.startsWith(text(operand.prefix, where));
  }
  return operand === value;
}

function anyValue(value: unknown, test: (v: unknown) => boolean): boolean {
  return Array.isArray(value) ? value.some(test) : test(value);
}

function text(operand: unknown, where: string): string {
  if (typeof operand !== 'string') throw new InvalidPatternError(`"${where}": the operand must be a string`);
  return operand;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The fields TestEventPattern requires of the event. */
export const REQUIRED_EVENT_FIELDS = [
  'id',
  'account',
  'source',
  'time',
  'region',
  'resources',
  'detail-type',
];
