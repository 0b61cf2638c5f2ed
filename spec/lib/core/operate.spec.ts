import { EMPTY, Observable, of, range, Subscriber, take, tap, throwError } from 'rxjs';
import { guarded, operate } from '../../../lib/core/operate';
import { RivuletError } from 'rivulet';

function double(source: Observable<number>, finalized: string[] = []): Observable<number> {
  return new Observable<number>((destination) => {
    operate(source, destination, { next: (n) => destination.next(n * 2), finalize: () => finalized.push('finalize') });
  });
}

function endless(pulled: { count: number }): Observable<number> {
  return new Observable<number>((subscriber: Subscriber<number>) => {
    for (let i = 0; !subscriber.closed; i++) {
      pulled.count++;
      subscriber.next(i);
    }
  });
}

describe('operate', () => {
  it('stops a synchronous endless source as soon as downstream unsubscribes', () => {
    const pulled = { count: 0 };
    const seen: number[] = [];
    double(endless(pulled)).pipe(take(3)).subscribe((n) => seen.push(n));
    expect(seen).toEqual([0, 2, 4]);
    expect(pulled.count).toBe(3);
  });

  it('pulls no more of a synchronous range than take needs', () => {
    let pulled = 0;
    const counted = range(0, 1_000_000).pipe(tap(() => pulled++));
    double(counted).pipe(take(3)).subscribe();
    expect(pulled).toBe(3);
  });

  it('passes completion and errors on, and finalizes once either way', () => {
    const finalized: string[] = [];
    const events: string[] = [];
    double(of(1), finalized).subscribe({ next: (n) => events.push(`n${n}`), complete: () => events.push('c') });
    double(throwError(() => new Error('boom')), finalized).subscribe({ error: (e: Error) => events.push(e.message) });
    double(EMPTY, finalized).subscribe().unsubscribe();
    expect(events).toEqual(['n2', 'c', 'boom']);
    expect(finalized).toEqual(['finalize', 'finalize', 'finalize']);
  });

  it('turns a throwing handler into an error and unsubscribes the source', () => {
    const pulled = { count: 0 };
    let error: unknown;
    new Observable<number>((destination) => {
      operate(endless(pulled), destination, {
        next: (n) => {
          if (n === 2) throw new Error('handler');
          destination.next(n);
        },
      });
    }).subscribe({ error: (e) => (error = e) });
    expect((error as Error).message).toBe('handler');
    expect(pulled.count).toBe(3);
  });

  it('does not subscribe the source when the destination is already closed, and finalizes once', () => {
    let subscribed = 0;
    const finalized: string[] = [];
    const after: string[] = [];
    new Observable<number>((destination) => {
      destination.complete();
      const inner = operate(new Observable<number>(() => void subscribed++), destination, {
        next: (n) => destination.next(n),
        finalize: () => finalized.push('finalize'),
      });
      after.push(inner.closed ? 'closed' : 'open');
    }).subscribe();
    expect(subscribed).toBe(0);
    expect(finalized).toEqual(['finalize']);
    expect(after).toEqual(['closed']);
  });

  it('lets handlers replace the default error and completion', () => {
    const events: string[] = [];
    const swallowing = (source: Observable<number>) =>
      new Observable<number>((destination) => {
        operate(source, destination, {
          next: (n) => destination.next(n),
          error: () => destination.complete(),
          complete: () => {
            throw new Error('complete handler');
          },
        });
      });
    swallowing(throwError(() => new Error('ignored'))).subscribe({ complete: () => events.push('completed') });
    swallowing(EMPTY).subscribe({ error: (e: Error) => events.push(e.message) });
    expect(events).toEqual(['completed', 'complete handler']);
  });

  it('does not break unsubscription chains', () => {
    const torn: string[] = [];
    const source = new Observable<number>(() => () => torn.push('source'));
    const subscription = double(source).subscribe();
    subscription.unsubscribe();
    expect(torn).toEqual(['source']);
  });
});

describe('guarded', () => {
  it('names the operator and callback and keeps the cause', () => {
    const cause = new Error('nope');
    const keyOf = guarded('myOp', 'keyOf', (v: number): number => {
      if (v < 0) throw cause;
      return v + 1;
    });
    expect(keyOf(1)).toBe(2);
    let thrown: unknown;
    try {
      keyOf(-1);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(RivuletError);
    expect(thrown).toMatchObject({ code: 'ERR_CALLBACK_FAILED', message: 'myOp: keyOf threw: nope', cause });
  });

  it("wraps a RivuletError too with 'wrap', so a code that is only ever thrown is never emitted", () => {
    const original = new RivuletError('ERR_INVALID_OPTION', 'inner: bad option');
    const fn = guarded(
      'myOp',
      'pipeline',
      () => {
        throw original;
      },
      'wrap',
    );
    expect(() => fn()).toThrow(expect.objectContaining({ code: 'ERR_CALLBACK_FAILED', message: 'myOp: pipeline threw: inner: bad option', cause: original }));
  });

  it('passes up to three arguments and the result through', () => {
    const step = guarded('myOp', 'step', (a: number, b: string, c: boolean) => `${a}${b}${c}`);
    expect(step(1, 'x', true)).toBe('1xtrue');
  });

  it('lets a RivuletError through unchanged', () => {
    const original = new RivuletError('ERR_INVALID_VALUE', 'inner: bad');
    const fn = guarded('myOp', 'step', () => {
      throw original;
    });
    expect(() => fn()).toThrow(original);
  });
});
