/**
 * The shell around an adapter's state machine: it feeds events to a pure transition function one
 * at a time and performs the effects that come back, so that all the decisions live in the
 * transition function and all the I/O lives in `perform`.
 *
 * Events run to completion: an event raised while effects are being performed (a socket that
 * refuses a write, a subscriber that unsubscribes from inside its error handler, a callback that
 * throws) waits until every effect of the current transition has run, so no transition ever
 * starts from a state that is about to change. An effect that throws cancels the effects after
 * it in the same transition (an `onConnect` that throws must not be followed by a write) and the
 * machine is told of the failure as an event.
 */
export type Transition<S, E, F> = (state: S, event: E) => readonly [S, readonly F[]];

/** A transition's empty list of effects, shared so that the hot path allocates nothing. */
export const NO_EFFECTS: readonly never[] = Object.freeze([]);

export interface MachineRunner<S, E> {
  /** The current state, for tests and for counters that mirror it. */
  readonly state: S;
  dispatch(event: E): void;
}

export function runMachine<S, E, F>(
  initial: S,
  transition: Transition<S, E, F>,
  perform: (effect: F) => void,
  failed: (error: unknown) => E,
): MachineRunner<S, E> {
  let state = initial;
  // Non-empty while a transition's effects run: the first entry is the event being handled.
  const pending: E[] = [];
  const dispatch = (event: E): void => {
    pending.push(event);
    if (pending.length > 1) return;
    while (pending.length > 0) {
      try {
        const [next, effects] = transition(state, pending[0]);
        state = next;
        for (const effect of effects) {
          try {
            perform(effect);
          } catch (error) {
            pending.push(failed(error));
            break;
          }
        }
      } finally {
        pending.shift();
      }
    }
  };
  return {
    get state() {
      return state;
    },
    dispatch,
  };
}
