/**
 * Nanosecond time in a language whose numbers are doubles.
 *
 * Unix time in ns (~1.7e18) is beyond 2^53, so a JS number cannot hold it
 * exactly: absolute times travel as decimal strings and are parsed to BigInt.
 * Only offsets from a base become numbers; a double holds an offset exactly up
 * to 2^53 ns (~104 days), far beyond any transaction.
 */

export type NsString = string;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const NS_PER_MS = BigInt(1_000_000);

/** Parse an absolute or relative ns value given as a decimal string, BigInt or safe integer. */
export function parseNs(value: string | number | bigint): bigint {
  if (typeof value === 'bigint') {
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`ns value ${value} is not a safe integer: send it as a string`);
    }
    return BigInt(value);
  }
  if (!/^-?\d+$/.test(value.trim())) {
    throw new RangeError(`not a nanosecond integer: ${JSON.stringify(value)}`);
  }
  return BigInt(value.trim());
}

/** ns since `base`, as a number: exact, or a RangeError when it would not be. */
export function offsetNs(value: string | bigint, base: string | bigint): number {
  const delta = parseNs(value) - parseNs(base);
  if (delta > MAX_SAFE || -delta > MAX_SAFE) {
    throw new RangeError(`offset ${delta} ns from base does not fit a double exactly`);
  }
  return Number(delta);
}

/** The absolute time `base + offset` as a decimal string. */
export function addNs(base: string | bigint, offset: number | bigint): NsString {
  return (parseNs(base) + parseNs(typeof offset === 'number' ? Math.round(offset) : offset)).toString();
}

/** The smallest of absolute ns strings (the base of a timeline). */
export function minNs(values: Iterable<string>): NsString {
  let best: bigint | undefined;
  for (const v of values) {
    const n = parseNs(v);
    if (best === undefined || n < best) {
      best = n;
    }
  }
  if (best === undefined) {
    throw new RangeError('no timestamps');
  }
  return best.toString();
}

/** Split absolute ns into epoch ms (what Grafana's time fields hold) and the 0..999999 ns left over (`Field.nanos`). */
export function splitMsNanos(value: string | bigint): { ms: number; nanos: number } {
  const ns = parseNs(value);
  const ms = ns / NS_PER_MS;
  return { ms: Number(ms), nanos: Number(ns - ms * NS_PER_MS) };
}

const UNITS: Array<[number, string]> = [
  [1e9, 's'],
  [1e6, 'ms'],
  [1e3, 'µs'],
];

/** A duration in ns for people: "812 ms", "3.21 µs", "950 ns". */
export function formatDuration(ns: number): string {
  const abs = Math.abs(ns);
  for (const [scale, unit] of UNITS) {
    if (abs >= scale) {
      return `${trim(ns / scale)} ${unit}`;
    }
  }
  return `${Math.round(ns)} ns`;
}

/** An offset from the base: "+812.4 ms". */
export function formatOffset(ns: number): string {
  return `${ns < 0 ? '−' : '+'}${formatDuration(Math.abs(ns))}`;
}

/**
 * An axis label for an offset when the visible window is `windowNs` wide:
 * the unit of the window and enough decimals to tell ticks apart, so a 2 µs
 * window at +2.3 ms reads "+2300.125 µs", not "+2.3 ms" on every tick.
 */
export function formatAxisOffset(ns: number, windowNs: number): string {
  const [scale, unit] = UNITS.find(([s]) => windowNs >= s) ?? [1, 'ns'];
  const digits = Math.max(0, Math.min(6, 3 - Math.floor(Math.log10(Math.max(windowNs, 1) / scale))));
  return `${ns < 0 ? '−' : '+'}${(Math.abs(ns) / scale).toFixed(digits).replace(/\.0+$/, '')} ${unit}`;
}

/** Offset with all its nanoseconds, grouped for reading: "+812 345 678 ns". */
export function formatOffsetExact(ns: number): string {
  const digits = Math.abs(Math.round(ns))
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
  return `${ns < 0 ? '−' : '+'}${digits} ns`;
}

function trim(x: number): string {
  const abs = Math.abs(x);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  const fixed = x.toFixed(digits);
  return digits === 0 ? fixed : fixed.replace(/\.?0+$/, '');
}
