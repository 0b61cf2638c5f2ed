import { parseDuration } from 'rivulet';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1.5h', 5_400_000],
    ['2d', 172_800_000],
    [' 0s ', 0],
  ])('reads %j as %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['5', '', 'm', '-5m', '5 minutes', '1e3s'])('rejects %j, naming the option', (text) => {
    expect(() => parseDuration(text, '--allowed-lateness')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('--allowed-lateness') }),
    );
  });
});
