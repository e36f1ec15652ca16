/**
 * Parsers for option values. A bad value throws commander's InvalidArgumentError, so
 * commander reports it like any other usage error (exit 2).
 */
import { InvalidArgumentError } from 'commander';

/** A whole number of at least `min`, as commander's argParser. */
export function integerAtLeast(min: number): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
      throw new InvalidArgumentError(`expected a whole number >= ${min}, got '${text}'.`);
    }
    return value;
  };
}

/** A repeatable option: every occurrence is kept, in order. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A repeatable `name=value` option (the value may contain '='). */
export function collectKeyValue(value: string, previous: Array<[string, string]> = []): Array<[string, string]> {
  const separator = value.indexOf('=');
  if (separator <= 0) throw new InvalidArgumentError(`expected name=value, got '${value}'.`);
  return [...previous, [value.slice(0, separator), value.slice(separator + 1)]];
}
