/**
 * `ws`, loaded by the first WebSocket server or client rather than by every program that imports
 * rivulet: with its dependencies it is a fiftieth of a second of start-up, which a command that
 * only reads files would pay for nothing. Internal to lib/io.
 */
import type * as Ws from 'ws';

let loaded: typeof Ws | undefined;

export function wsModule(): typeof Ws {
  return (loaded ??= require('ws') as typeof Ws);
}
