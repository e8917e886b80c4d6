import { ICS_ERR, describe, icsError } from '@ics-ts/wsocket';

/**
 * Option checks: the error names where it was found, the option and the value
 * given (TypeError for a wrong type or an unknown key, RangeError for a number
 * out of range), with the catalog's code, as TWSocketServer's checks do.
 */

export function failType(where: string, message: string): never {
  throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: ${message}`);
}

export function checkOptionsObject(options: unknown, where: string, known: ReadonlySet<string>): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    failType(where, `options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw icsError(TypeError, ICS_ERR.UNKNOWN_OPTION, `${where}: unknown option ${describe(key)}`);
  }
  return options as Record<string, unknown>;
}

/** An integer in [min, max]. */
export function checkInteger(value: unknown, where: string, option: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option ${option} must be an integer ${range}, got ${describe(value)}`);
  }
  return value as number;
}

export function checkBoolean(value: unknown, where: string, option: string): boolean {
  if (typeof value !== 'boolean') failType(where, `option ${option} must be a boolean, got ${describe(value)}`);
  return value;
}

export function checkString(value: unknown, where: string, option: string): string {
  if (typeof value !== 'string') failType(where, `option ${option} must be a string, got ${describe(value)}`);
  return value;
}

export function checkStringArray(value: unknown, where: string, option: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    failType(where, `option ${option} must be an array of strings, got ${describe(value)}`);
  }
  return [...(value as string[])];
}

/** An argument of a bus call: a non-empty string within `maxLength`. */
export function checkName(value: unknown, where: string, what: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0) failType(where, `${what} must be a non-empty string, got ${describe(value)}`);
  if (value.length > maxLength) {
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: ${what} is ${value.length} characters, more than ${maxLength}`);
  }
  return value;
}
