/**
 * What a flooded server costs the machine, read from /proc (Linux): its resident set, and the
 * bytes waiting in the kernel's queues of its connections, which its own memory does not show.
 */
import { readFileSync } from 'node:fs';

export const MiB = 1_048_576;

/** The resident set (VmRSS) of process `pid`, in MiB. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

export interface SocketQueues {
  /** Established connections whose local port is the server's. */
  established: number;
  /** Those and the ones closing (the listening socket left out): what the queues are summed over. */
  connections: number;
  /** Written by the server, not yet read by its peers: the send queues, in MiB. */
  sendMiB: number;
  /** Sent by the peers, not yet read by the server: the receive queues, in MiB. */
  receiveMiB: number;
  /** The fullest single send queue, in MiB. */
  maxSendMiB: number;
}

const ESTABLISHED = '01';
const LISTEN = '0A';

/**
 * The kernel's queues of the IPv4 connections accepted on `host`:`port` (/proc/net/tcp). The
 * address matters: a client socket elsewhere on the machine may have the same port number.
 */
export function socketQueues(port: number, host = '127.0.0.1'): SocketQueues {
  // /proc/net/tcp writes an address as its 32 bits in host order (little-endian here), in hex.
  const addressHex = host.split('.').map((octet) => Number(octet).toString(16).toUpperCase().padStart(2, '0')).reverse().join('');
  const local = `${addressHex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const queues: SocketQueues = { established: 0, connections: 0, sendMiB: 0, receiveMiB: 0, maxSendMiB: 0 };
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || fields[1] !== local || fields[3] === LISTEN) continue;
    const [tx, rx] = fields[4].split(':').map((hex) => parseInt(hex, 16) / MiB);
    queues.connections++;
    if (fields[3] === ESTABLISHED) queues.established++;
    queues.sendMiB += tx;
    queues.receiveMiB += rx;
    queues.maxSendMiB = Math.max(queues.maxSendMiB, tx);
  }
  return queues;
}

/** The most the kernel lets one TCP send queue grow to (the third field of tcp_wmem), in MiB. */
export function kernelMaxSendMiB(): number {
  return Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]) / MiB;
}

/** One figure of a flood, beside the limit it is held to; `met` only where the limit is a hard one. */
export interface FloodFigure {
  flood: string;
  figure: string;
  limit: string;
  met?: boolean;
}

export const round1 = (n: number): number => Math.round(n * 10) / 10;
