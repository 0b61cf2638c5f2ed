import { invalidOption } from './errors';

const UNITS = new Map([['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000], ['d', 86_400_000]]);

/**
 * Reads a duration such as `5m`, `90s`, `1.5h`, `250ms` or `2d` into milliseconds. A bare number
 * is rejected: a duration without its unit is the commonest misreading of an option.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) throw invalidOption(what, `"${text}" is not a duration such as 250ms, 30s, 5m, 1h or 2d`);
  return Math.round(Number(m[1]) * (UNITS.get(m[2]) as number));
}
