/**
 * The load generator of the TCP benchmark, in its own process (forked by tcpBench) so that it
 * does not share an event loop with the pipeline under test. It receives frames on a server of
 * its own, then sends 50-byte length-prefixed frames to the pipeline, each carrying its send time
 * (process.hrtime, the same monotonic clock in both processes), and reports throughput and the
 * latency of every frame that came back.
 */
import * as net from 'node:net';

export const PAYLOAD_BYTES = 50;
const HEADER_BYTES = 4;
const FRAME_BYTES = HEADER_BYTES + PAYLOAD_BYTES;

export interface LoadRequest {
  pipelinePort: number;
  frames: number;
  /** Frames per second, or 0 for as fast as the pipeline accepts them. */
  rate: number;
}

export interface LoadReport {
  received: number;
  seconds: number;
  framesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  bad: number;
}

/** Frame `seq`: header, then `seq send-time-ns` padded with dots to 50 bytes. */
function writeFrame(out: Buffer, offset: number, seq: number, nowNs: bigint): void {
  out.writeUInt32BE(PAYLOAD_BYTES, offset);
  const text = `${seq} ${nowNs} `;
  out.write(text, offset + HEADER_BYTES, 'latin1');
  out.fill(46, offset + HEADER_BYTES + text.length, offset + FRAME_BYTES);
}

function receiver(expected: () => number, onDone: (latenciesNs: Float64Array, count: number, bad: number, lastNs: bigint) => void): net.Server {
  return net.createServer((socket) => {
    let pending: Buffer = Buffer.alloc(0);
    let count = 0;
    let bad = 0;
    let latencies = new Float64Array(1 << 20);
    socket.on('data', (chunk: Buffer) => {
      const now = process.hrtime.bigint();
      const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      while (buf.length - at >= HEADER_BYTES) {
        const size = buf.readUInt32BE(at);
        if (buf.length - at < HEADER_BYTES + size) break;
        const text = buf.toString('latin1', at + HEADER_BYTES, at + HEADER_BYTES + size);
        const space = text.indexOf(' ');
        const sent = BigInt(text.slice(space + 1, text.indexOf(' ', space + 1)));
        if (size !== PAYLOAD_BYTES) bad++;
        if (count === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[count++] = Number(now - sent);
        at += HEADER_BYTES + size;
      }
      pending = buf.subarray(at);
      if (count >= expected()) {
        socket.destroy();
        onDone(latencies.subarray(0, count), count, bad, now);
      }
    });
  });
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Sends frames paced at `rate` (in batches, each time the event loop comes round) or flat out. */
function send(socket: net.Socket, frames: number, rate: number, onStart: (ns: bigint) => void): void {
  const start = process.hrtime.bigint();
  onStart(start);
  let seq = 0;
  const step = (): void => {
    while (seq < frames) {
      const now = process.hrtime.bigint();
      const owed = rate === 0 ? frames - seq : Math.min(frames, Math.floor((Number(now - start) / 1e9) * rate)) - seq;
      if (owed <= 0) return void setImmediate(step);
      const batch = Math.min(owed, 1200); // about 64 KiB a write
      const out = Buffer.allocUnsafe(batch * FRAME_BYTES);
      for (let i = 0; i < batch; i++) writeFrame(out, i * FRAME_BYTES, seq++, now);
      if (!socket.write(out)) return void socket.once('drain', step);
      if (rate !== 0) return void setImmediate(step);
    }
    socket.end();
  };
  step();
}

function main(): void {
  let request: LoadRequest | undefined;
  let startNs = 0n;
  const server = receiver(
    () => request?.frames ?? Infinity,
    (latencies, count, bad, lastNs) => {
      const seconds = Number(lastNs - startNs) / 1e9;
      const sorted = Float64Array.from(latencies).sort();
      const report: LoadReport = {
        received: count,
        seconds,
        framesPerSecond: count / seconds,
        p50Ms: percentile(sorted, 50) / 1e6,
        p99Ms: percentile(sorted, 99) / 1e6,
        bad,
      };
      process.send!(report, () => process.exit(0));
    },
  );
  server.listen(0, '127.0.0.1', () => process.send!({ receiverPort: (server.address() as net.AddressInfo).port }));
  process.on('message', (message: LoadRequest) => {
    request = message;
    const socket = net.createConnection({ host: '127.0.0.1', port: message.pipelinePort }, () =>
      send(socket, message.frames, message.rate, (ns) => (startNs = ns)),
    );
    socket.on('error', (err) => {
      process.stderr.write(`tcpLoad: ${err.message}\n`);
      process.exit(1);
    });
  });
}

if (require.main === module) main();
