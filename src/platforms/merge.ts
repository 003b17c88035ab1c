/**
 * Listing many accounts at once: a server's history is read account by account, and one account's pages wait on
 * one round trip after another, so a single walk leaves the connection idle most of the time. `mergeListings` runs
 * several accounts' listings at once and hands their records on as they arrive.
 */

/**
 * Runs `list(item)` for every item, at most `concurrency` at once, and yields everything they yield as it arrives:
 * each listing's own order is kept, listings interleave. At most about `highWater` values wait in memory (the
 * listings pause until the consumer catches up). The first error stops every listing and is thrown; a consumer
 * that stops early stops them too, and either way the generator returns only once every listing has ended.
 */
export async function* mergeListings<I, T>(
  items: readonly I[],
  concurrency: number,
  list: (item: I) => AsyncIterable<T>,
  highWater = 1000,
): AsyncGenerator<T> {
  const buffer: T[] = [];
  /** Values listed and not yet handed on (in the buffer or in the consumer's hands). */
  let held = 0;
  let next = 0;
  let stopped = false;
  let failure: { error: unknown } | null = null;
  let done = false;
  let wakeConsumer: (() => void) | null = null;
  let wakeListings: (() => void)[] = [];
  const consumerWake = () => {
    const wake = wakeConsumer;
    wakeConsumer = null;
    wake?.();
  };
  const listingsWake = () => {
    const waiting = wakeListings;
    wakeListings = [];
    for (const wake of waiting) wake();
  };

  const worker = async () => {
    while (!stopped && failure === null && next < items.length) {
      const item = items[next++]!;
      for await (const value of list(item)) {
        // Leaving the loop closes the listing (its `finally` runs).
        if (stopped || failure !== null) return;
        buffer.push(value);
        held += 1;
        consumerWake();
        while (held >= highWater && !stopped && failure === null) {
          await new Promise<void>((resolve) => wakeListings.push(resolve));
        }
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, () =>
    worker().catch((error: unknown) => {
      failure ??= { error };
      listingsWake();
      consumerWake();
    }),
  );
  void Promise.all(workers).then(() => {
    done = true;
    consumerWake();
  });

  try {
    for (;;) {
      if (failure !== null) throw (failure as { error: unknown }).error;
      if (buffer.length > 0) {
        for (const value of buffer.splice(0, buffer.length)) {
          held -= 1;
          if (held < highWater) listingsWake();
          yield value;
        }
        continue;
      }
      if (done) return;
      await new Promise<void>((resolve) => {
        wakeConsumer = resolve;
      });
    }
  } finally {
    stopped = true;
    listingsWake();
    await Promise.allSettled(workers);
  }
}
