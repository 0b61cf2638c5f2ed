import * as os from 'node:os';
import { invalidOption } from '../core/errors';

/**
 * Which `Host` headers a server answers to. A browser sends the name it resolved, so a page on
 * another site whose DNS name an attacker points at this machine (DNS rebinding) arrives with
 * that site's name in `Host`, and with a matching `Origin`: only the Host check tells it apart.
 */
export interface HostCheck {
  /** The names allowed when the check was made (lower case, IPv6 in brackets). */
  readonly names: readonly string[];
  allows(hostHeader: string | undefined): boolean;
}

/** A Host header as browsers and `ws` send it: a DNS name or IPv4, or a bracketed IPv6, and a port. */
const HOST_HEADER = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
/** A name for `allowedHosts`: a DNS name or IPv4, or an IPv6 address with or without brackets. */
const HOST_NAME = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** `host` or `host:port` as one canonical name: lower case, no final dot, IPs normalised. */
export function hostNameOf(text: string): string | undefined {
  try {
    const { hostname } = new URL(`http://${text}/`);
    return hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  } catch {
    return undefined;
  }
}

const bracketed = (name: string): string => (name.includes(':') && !name.startsWith('[') ? `[${name}]` : name);

/** Validates `allowedHosts` and returns the names in canonical form; throws ERR_INVALID_OPTION naming `where`. */
export function allowedHostNames(where: string, given: unknown): string[] {
  if (given === undefined) return [];
  if (!Array.isArray(given)) throw invalidOption(where, 'allowedHosts must be an array of host names');
  return given.map((name: unknown) => {
    const canonical = typeof name === 'string' && HOST_NAME.test(name) ? hostNameOf(bracketed(name)) : undefined;
    if (canonical === undefined) throw invalidOption(where, `allowedHosts: ${JSON.stringify(name)} is not a host name or IP address (no port, no path)`);
    return canonical;
  });
}

const isLoopback = (name: string): boolean => name === '[::1]' || name === 'localhost' || /^127\./.test(name);
const isWildcard = (name: string): boolean => name === '0.0.0.0' || name === '[::]';

/** The machine's interface addresses, as Host names. */
function interfaceNames(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) =>
    (list ?? []).map((i) => hostNameOf(i.family === 'IPv6' ? `[${i.address.split('%')[0]}]` : i.address) ?? ''),
  );
}

/**
 * The names of a server bound to `boundAddress` (as `server.address()` reports it), plus
 * `extra` (canonical, from {@link allowedHostNames}): the bound address; for a loopback bind
 * the loopback names; for a wildcard bind those and every interface address, looked up again on
 * a miss since they may change while it runs. The port is not compared: the socket already
 * reached the right one.
 */
export function hostCheck(boundAddress: string, extra: readonly string[]): HostCheck {
  const names = new Set<string>(extra);
  const bound = hostNameOf(bracketed(boundAddress));
  if (bound !== undefined) names.add(bound);
  const wildcard = bound !== undefined && isWildcard(bound);
  if (wildcard || (bound !== undefined && isLoopback(bound))) for (const name of LOOPBACK_NAMES) names.add(name);
  if (wildcard) for (const name of interfaceNames()) if (name !== '') names.add(name);
  return {
    names: [...names],
    allows(hostHeader) {
      // Checked before parsing: the URL parser would read `evil.example@127.0.0.1` as 127.0.0.1.
      if (hostHeader === undefined || !HOST_HEADER.test(hostHeader)) return false;
      const name = hostNameOf(hostHeader);
      return name !== undefined && (names.has(name) || (wildcard && interfaceNames().includes(name)));
    },
  };
}
