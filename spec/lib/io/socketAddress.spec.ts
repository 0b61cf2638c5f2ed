import { formatSocketAddress, parseSocketAddress } from 'rivulet';

describe('parseSocketAddress', () => {
  it.each([
    ['127.0.0.1:8002', { host: '127.0.0.1', port: 8002 }],
    ['0.0.0.0:7002', { host: '0.0.0.0', port: 7002 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['[::1]:80', { host: '::1', port: 80 }],
    [':7002', { host: '127.0.0.1', port: 7002 }],
    ['7002', { host: '127.0.0.1', port: 7002 }],
    [' example.org:65535 ', { host: 'example.org', port: 65535 }],
  ])('parses %j', (text, expected) => {
    expect(parseSocketAddress(text)).toEqual(expected);
  });

  it('uses the given default host', () => {
    expect(parseSocketAddress('9000', '0.0.0.0')).toEqual({ host: '0.0.0.0', port: 9000 });
  });

  it.each([
    ['', /no port/],
    ['localhost', /no port/],
    ['host:', /port must be a number/],
    ['host:http', /port must be a number/],
    ['host:65536', /port must be a number/],
    ['::1:80', /IPv6 host must be in brackets/],
  ])('rejects %j', (text, reason) => {
    expect(() => parseSocketAddress(text)).toThrow(reason);
    expect(() => parseSocketAddress(text)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });
});

describe('formatSocketAddress', () => {
  it('brackets IPv6 hosts and marks unknown parts', () => {
    expect(formatSocketAddress('127.0.0.1', 5)).toBe('127.0.0.1:5');
    expect(formatSocketAddress('::1', 5)).toBe('[::1]:5');
    expect(formatSocketAddress(undefined, undefined)).toBe('unknown:?');
  });
});
