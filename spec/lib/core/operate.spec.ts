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

  it('lets a RivuletError through unchanged', () => {
    const original = new RivuletError('ERR_INVALID_VALUE', 'inner: bad');
    const fn = guarded('myOp', 'step', () => {
      throw original;
    });
    expect(() => fn()).toThrow(original);
  });
});
