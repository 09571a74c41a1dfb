import { addNs, formatDuration, formatOffsetExact, minNs, offsetNs, parseNs, splitMsNanos } from './ns';

describe('nanosecond time', () => {
  // 1795314503343515834 is beyond 2^53: as a JS number it would round.
  const t = '1795314503343515834';

  it('keeps epoch ns exact and makes offsets plain numbers', () => {
    expect(Number(t).toString()).not.toBe(t);
    expect(offsetNs('1795314503343515835', t)).toBe(1);
    expect(offsetNs(addNs(t, 749_300_001), t)).toBe(749_300_001);
    expect(addNs(t, 1)).toBe('1795314503343515835');
    expect(minNs([addNs(t, 5), t, addNs(t, 2)])).toBe(t);
  });

  it('refuses values it cannot hold exactly', () => {
    expect(() => parseNs(2 ** 60)).toThrow(/not a safe integer/);
    expect(() => parseNs('12.5')).toThrow(/not a nanosecond integer/);
    expect(() => offsetNs('9000000000000000000', '0')).toThrow(/does not fit a double/);
  });

  it('splits epoch ns into Grafana ms + Field.nanos', () => {
    expect(splitMsNanos(t)).toEqual({ ms: 1795314503343, nanos: 515834 });
  });

  it('formats durations for people', () => {
    expect(formatDuration(760_000_000)).toBe('760 ms');
    expect(formatDuration(749_300_000)).toBe('749 ms');
    expect(formatDuration(1_500_000_000)).toBe('1.5 s');
    expect(formatDuration(3_210)).toBe('3.21 µs');
    expect(formatDuration(950)).toBe('950 ns');
    expect(formatDuration(10_000)).toBe('10 µs');
    expect(formatOffsetExact(812_345_678)).toBe('+812\u202f345\u202f678 ns');
  });
});

describe('axis labels', () => {
  it('carry the precision the zoom needs', () => {
    const { formatAxisOffset } = jest.requireActual('./ns');
    expect(formatAxisOffset(200_000_000, 800_000_000)).toBe('+200 ms');
    expect(formatAxisOffset(2_300_125, 2_000)).toBe('+2300.125 µs');
    expect(formatAxisOffset(2_300_125, 200)).toBe('+2300125 ns');
  });
});
