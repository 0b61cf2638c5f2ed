import { calendarDays, fixedPanes } from 'rivulet';
import { WindowClock } from '../../../lib/windowing/windowClock';

const H = 3_600_000;

describe('WindowClock', () => {
  it('starts before all time', () => {
    const clock = new WindowClock(fixedPanes(H), 24, 0);
    expect([clock.maxEventTime, clock.watermark, clock.windowStart, clock.windowEnd]).toEqual([-Infinity, -Infinity, -Infinity, -Infinity]);
  });

  it('keeps a 24-pane window ending at the end of the watermark hour', () => {
    const clock = new WindowClock(fixedPanes(H), 24, 0);
    expect(clock.advance(0)).toBe(true);
    expect([clock.windowStart, clock.windowEnd]).toEqual([-23 * H, H]);
    expect(clock.advance(H - 1)).toBe(false); // same hour: nothing can close
    expect(clock.advance(24 * H - 1)).toBe(true);
    expect([clock.windowStart, clock.windowEnd]).toEqual([0, 24 * H]);
    expect(clock.advance(24 * H)).toBe(true); // the pane starting at 0 closes exactly here
    expect([clock.windowStart, clock.windowEnd]).toEqual([H, 25 * H]);
  });

  it('never moves back', () => {
    const clock = new WindowClock(fixedPanes(H), 2, 0);
    clock.advance(5 * H);
    expect(clock.advance(H)).toBe(false);
    expect(clock.advance(5 * H)).toBe(false);
    expect([clock.maxEventTime, clock.watermark, clock.windowStart]).toEqual([5 * H, 5 * H, 4 * H]);
  });

  it('keeps the watermark the allowed lateness behind the largest time', () => {
    const clock = new WindowClock(fixedPanes(H), 1, 30 * 60_000);
    clock.advance(H + 10 * 60_000); // 01:10 -> watermark 00:40
    expect(clock.watermark).toBe(40 * 60_000);
    expect([clock.windowStart, clock.windowEnd]).toEqual([0, H]);
    expect(clock.advance(H + 30 * 60_000)).toBe(true); // watermark 01:00
    expect([clock.windowStart, clock.windowEnd]).toEqual([H, 2 * H]);
  });

  it('steps back over calendar days of different lengths', () => {
    const clock = new WindowClock(calendarDays('America/Los_Angeles'), 3, 0);
    clock.advance(Date.parse('2024-03-11T12:00:00-07:00'));
    expect(clock.windowStart).toBe(Date.parse('2024-03-09T00:00:00-08:00'));
    expect(clock.windowEnd).toBe(Date.parse('2024-03-12T00:00:00-07:00'));
  });
});
