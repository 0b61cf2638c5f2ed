import { invalidOption } from '../core/errors';

/** A TCP endpoint. */
export interface SocketAddress {
  host: string;
  port: number;
}

/**
 * Parses `HOST:PORT` as written on a command line: `127.0.0.1:7002`, `localhost:7002`,
 * `[::1]:7002`, or `:7002` / `7002` for `defaultHost` (127.0.0.1 unless told otherwise, so
 * nothing is exposed beyond the machine by accident). Throws ERR_INVALID_OPTION with the reason.
 *
 * ```ts
 * parseSocketAddress('0.0.0.0:8002'); // { host: '0.0.0.0', port: 8002 }
 * parseSocketAddress('[::1]:80');     // { host: '::1', port: 80 }
 * parseSocketAddress('7002');         // { host: '127.0.0.1', port: 7002 }
 * ```
 */
export function parseSocketAddress(text: string, defaultHost = '127.0.0.1'): SocketAddress {
  const where = 'parseSocketAddress';
  const trimmed = text.trim();
  const bad = (why: string) => invalidOption(where, `${why}: expected HOST:PORT (e.g. 127.0.0.1:7002 or [::1]:7002), got ${JSON.stringify(text)}`);
  let host: string;
  let portText: string;
  if (/^\d+$/.test(trimmed)) {
    host = defaultHost;
    portText = trimmed;
  } else {
    const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(trimmed);
    const colon = trimmed.lastIndexOf(':');
    if (bracketed) {
      host = bracketed[1];
      portText = bracketed[2];
    } else if (colon >= 0) {
      host = trimmed.slice(0, colon) || defaultHost;
      portText = trimmed.slice(colon + 1);
      if (host.includes(':')) throw bad('an IPv6 host must be in brackets');
    } else {
      throw bad('no port');
    }
  }
  if (!/^\d+$/.test(portText) || Number(portText) > 65_535) throw bad('the port must be a number from 0 to 65535');
  return { host, port: Number(portText) };
}

/** Writes an endpoint the way errors and logs name peers: `127.0.0.1:7002`, `[::1]:7002`. */
export function formatSocketAddress(host: string | undefined, port: number | undefined): string {
  const name = host ?? 'unknown';
  return `${name.includes(':') ? `[${name}]` : name}:${port ?? '?'}`;
}
