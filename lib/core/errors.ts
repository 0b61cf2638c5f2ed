/**
 * Every error rivulet raises is a {@link RivuletError} with a stable `code` (safe to branch on)
 * and a message for humans that names what went wrong and where: the operator, the peer, the
 * file and line. The codes are listed in the README; adding one is a change to document there.
 */
export type RivuletErrorCode =
  /** A bad argument given when an operator, source or sink is created. Thrown, never emitted. */
  | 'ERR_INVALID_OPTION'
  /** A user callback (step, keyOf, timestampOf, ...) threw; the original error is the `cause`. */
  | 'ERR_CALLBACK_FAILED'
  /** A value that an operator cannot accept at run time (a timestamp that is not a number, ...). */
  | 'ERR_INVALID_VALUE'
  /** A frame's declared or actual length is above the connection's `maxFrameBytes`. */
  | 'ERR_FRAME_TOO_LARGE'
  /** The peer closed the connection in the middle of a frame. */
  | 'ERR_FRAME_TRUNCATED'
  /** A frame or line is not valid UTF-8. */
  | 'ERR_INVALID_UTF8'
  /** A socket could not be opened, or closed uncleanly (reset, refused, timed out). */
  | 'ERR_CONNECTION'
  /** A sink's bounded buffer is full and nothing upstream can be paused. */
  | 'ERR_BUFFER_FULL'
  /** A WebSocket client's `Origin` is not on the allow-list. */
  | 'ERR_ORIGIN_NOT_ALLOWED'
  /**
   * A WebSocket client asked for the server under a `Host` that is not one of its names (its
   * bind address, the loopback names, `allowedHosts`): a page whose DNS name was pointed at this
   * machine (DNS rebinding), which a matching `Origin` alone cannot tell apart.
   */
  | 'ERR_HOST_NOT_ALLOWED'
  /** A WebSocket client could not keep up and the policy is to disconnect it. */
  | 'ERR_SLOW_CONSUMER'
  /** A file could not be opened or read. */
  | 'ERR_FILE'
  /** A checkpoint does not fit the pipeline (unknown uid, other version, other options, other job). */
  | 'ERR_CHECKPOINT_INCOMPATIBLE'
  /** A pipeline that cannot be checkpointed (processing time, no uid, asynchronous steps). */
  | 'ERR_NOT_CHECKPOINTABLE'
  /** A checkpoint store that cannot be read or written, or holds no intact checkpoint. */
  | 'ERR_CHECKPOINT_STORE';

export class RivuletError extends Error {
  override readonly name = 'RivuletError';

  constructor(
    readonly code: RivuletErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The error for a bad argument, thrown when an operator or adapter is created. */
export function invalidOption(where: string, message: string): RivuletError {
  return new RivuletError('ERR_INVALID_OPTION', `${where}: ${message}`);
}

/** Wraps what a user callback threw so the subscriber learns which operator and callback failed. */
export function callbackFailed(where: string, callback: string, cause: unknown): RivuletError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new RivuletError('ERR_CALLBACK_FAILED', `${where}: ${callback} threw: ${reason}`, { cause });
}

/** Checks that `value` is a finite number greater than zero (or at least zero), or throws. */
export function requirePositive(where: string, name: string, value: number, allowZero = false): void {
  const ok = typeof value === 'number' && Number.isFinite(value) && (allowZero ? value >= 0 : value > 0);
  if (!ok) {
    throw invalidOption(where, `${name} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${String(value)}`);
  }
}

/** Checks that `value` is an integer greater than zero (or at least zero), or throws. */
export function requireInteger(where: string, name: string, value: number, allowZero = false): void {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw invalidOption(where, `${name} must be an integer ${allowZero ? '>= 0' : '>= 1'}, got ${String(value)}`);
  }
}
