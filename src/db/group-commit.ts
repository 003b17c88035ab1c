/**
 * A group commit: items (webhooks, operation ends) that each need a transaction are committed one transaction at a
 * time. An item that finds none being committed goes at once, alone; those that arrive meanwhile wait and go together
 * in the next, so under load the batches grow and each shares one BEGIN, one audit chain lock and one COMMIT. A batch
 * whose transaction fails is committed again item by item, so each item gets the answer it would have had alone and
 * none is held up by another's trouble. The cost: an item whose transaction is slow holds up the ones behind it.
 */
export interface GroupCommitOptions<T, R> {
  /** Commits these items in one transaction; answers their results in the same order, or throws. */
  commit(items: T[]): Promise<R[]>;
  /** Items in one transaction at most. */
  max: number;
  /**
   * Which of the waiting items (in arrival order) go in the next batch, as indices into `waiting`, in the order they
   * are to be committed: at least one and at most `max`, the oldest first so that none waits for ever. By default the
   * first `max`.
   */
  pick?(waiting: readonly T[], max: number): number[];
}

interface Waiting<T, R> {
  item: T;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export class GroupCommit<T, R> {
  private readonly waiting: Waiting<T, R>[] = [];
  private committing = false;

  constructor(private readonly options: GroupCommitOptions<T, R>) {}

  /** Resolves with the item's result once its transaction has committed. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.committing || this.waiting.length === 0) return;
    const { max, pick } = this.options;
    const items = this.waiting.map((w) => w.item);
    const picked = pick ? pick(items, max).slice(0, max) : items.slice(0, max).map((_, i) => i);
    // A pick of nothing would leave the queue waiting forever: the oldest item goes.
    const indices = picked.length > 0 ? picked : [0];
    const batch = indices.map((i) => this.waiting[i]!);
    for (const i of [...indices].sort((a, b) => b - a)) this.waiting.splice(i, 1);
    this.committing = true;
    void this.run(batch).finally(() => {
      this.committing = false;
      this.next();
    });
  }

  private async run(batch: Waiting<T, R>[]): Promise<void> {
    if (batch.length > 1) {
      try {
        const results = await this.options.commit(batch.map((w) => w.item));
        for (const [i, w] of batch.entries()) w.resolve(results[i]!);
        return;
      } catch {
        // Each alone below: the item that failed the batch fails again on its own, the others commit.
      }
    }
    for (const w of batch) {
      try {
        w.resolve((await this.options.commit([w.item]))[0]!);
      } catch (err) {
        w.reject(err);
      }
    }
  }
}
