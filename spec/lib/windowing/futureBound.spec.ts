import { checkFutureOptions, FutureBound } from '../../../lib/windowing/futureBound';

const H = 3_600_000;
const values = <T>(entries: [number, T][]): T[] => entries.map(([, v]) => v);

describe('FutureBound', () => {
  it('accepts the first event and events up to maxFutureMs ahead', () => {
    const b = new FutureBound<string>(H);
    expect(b.offer(9e15, 'first', -Infinity)).toBe('accept');
    expect(b.offer(5 * H, 'edge', 4 * H)).toBe('accept');
    expect(b.offer(0, 'old', 4 * H)).toBe('accept');
    expect(b.heldCount).toBe(0);
    expect(b.takeRejected()).toEqual([]);
  });

  it('holds an event beyond the bound, and rejects it once an in-bound event follows', () => {
    const b = new FutureBound<string>(H);
    expect(b.offer(5 * H + 1, 'far', 4 * H)).toBe('hold');
    expect(b.heldCount).toBe(1);
    expect(b.offer(4 * H, 'near', 4 * H)).toBe('accept');
    expect(b.takeRejected()).toEqual(['far']);
    expect(b.takeRejected()).toEqual([]);
    expect(b.rejected).toBe(1);
    expect(b.heldCount).toBe(0);
  });

  it('releases held events in arrival order once `confirmations` following ones also lie beyond', () => {
    const b = new FutureBound<string>(H, 3);
    expect(b.offer(12 * H, 'a', H)).toBe('hold');
    expect(b.offer(12 * H + 5, 'b', H)).toBe('hold');
    expect(b.offer(12 * H - 5, 'c', H)).toBe('hold');
    expect(b.offer(13 * H, 'd', H)).toBe('release');
    expect(values(b.takeReleased())).toEqual(['a', 'b', 'c', 'd']);
    expect(b.heldCount).toBe(0);
    expect(b.rejected).toBe(0);
    expect(b.takeRejected()).toEqual([]);
  });

  it('starts counting afresh after a rejection', () => {
    const b = new FutureBound<string>(H, 2);
    b.offer(10 * H, 'x', 0);
    b.offer(10 * H, 'y', 0);
    expect(b.offer(0, 'z', 0)).toBe('accept');
    expect(b.takeRejected()).toEqual(['x', 'y']);
    expect(b.offer(10 * H, 'p', 0)).toBe('hold');
    expect(b.offer(10 * H, 'q', 0)).toBe('hold');
    expect(b.offer(10 * H, 'r', 0)).toBe('release');
    expect(values(b.takeReleased())).toEqual(['p', 'q', 'r']);
  });

  it('holds at most maxHeld events, rejecting the oldest beyond that', () => {
    const b = new FutureBound<number>(H, 5, 2);
    expect(b.offer(10 * H, 1, 0)).toBe('hold');
    expect(b.offer(10 * H, 2, 0)).toBe('hold');
    expect(b.offer(10 * H, 3, 0)).toBe('hold');
    expect(b.heldCount).toBe(2);
    expect(b.takeRejected()).toEqual([1]);
    expect(b.offer(10 * H, 4, 0)).toBe('hold');
    expect(b.offer(10 * H, 5, 0)).toBe('hold');
    expect(b.takeRejected()).toEqual([2, 3]);
    expect(b.rejected).toBe(3);
    // The evicted events still counted as confirmations: the sixth beyond the bound confirms.
    expect(b.offer(10 * H, 6, 0)).toBe('release');
    expect(values(b.takeReleased())).toEqual([4, 5, 6]);
  });

  it('releases the held events that outside progress brings in bound, keeping the others', () => {
    const b = new FutureBound<string>(H);
    b.offer(3 * H, 'soon', 0);
    b.offer(50 * H, 'far', 0);
    expect(values(b.advanced(H / 2))).toEqual([]);
    expect(b.advanced(2 * H)).toEqual([[3 * H, 'soon']]);
    expect(b.heldCount).toBe(1);
    expect(b.offer(2 * H, 'near', 2 * H)).toBe('accept');
    expect(b.takeRejected()).toEqual(['far']);
  });

  it('puts back its snapshot', () => {
    const a = new FutureBound<string>(H);
    a.offer(10 * H, 'x', 0);
    a.offer(10 * H, 'y', 0);
    a.offer(10 * H, 'w', 0);
    a.offer(0, 'z', 0);
    a.offer(10 * H, 'u', 0);
    const b = new FutureBound<string>(H);
    b.restore(structuredClone(a.snapshot()));
    expect(b.rejected).toBe(3);
    expect(b.heldCount).toBe(1);
    b.offer(10 * H, 'v', 0);
    b.offer(10 * H, 'w', 0);
    expect(b.offer(10 * H, 'x', 0)).toBe('release');
    expect(values(b.takeReleased())).toEqual(['u', 'v', 'w', 'x']);
  });

  it('refuses bad options', () => {
    expect(() => checkFutureOptions('op', -1, undefined, undefined)).toThrow(/maxFutureMs/);
    expect(() => checkFutureOptions('op', H, 0, undefined)).toThrow(/confirmations/);
    expect(() => checkFutureOptions('op', H, 1001, undefined)).toThrow(/at most 1000/);
    expect(() => checkFutureOptions('op', undefined, 3, undefined)).toThrow(/needs maxFutureMs/);
    expect(() => checkFutureOptions('op', H, 3, {})).toThrow(/rejected must be an observer/);
    expect(() => checkFutureOptions('op', H, 3, { next() {} })).not.toThrow();
  });
});

describe('FutureBound.rejectHeld', () => {
  it('rejects whatever is held when nothing more can confirm it', () => {
    const b = new FutureBound<string>(1000);
    b.offer(5000, 'a', 0);
    b.offer(6000, 'b', 0);
    b.rejectHeld();
    expect(b.takeRejected()).toEqual(['a', 'b']);
    expect(b.rejected).toBe(2);
    expect(b.heldCount).toBe(0);
  });
});
