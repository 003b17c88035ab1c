/**
 * The simulators' durable state: named collections of JSON records and named counters, kept in memory and journaled.
 *
 * Every mutation is appended to `journal.jsonl` with a synchronous write *before* the caller replies, so whatever a
 * simulator acknowledged survives a stop or a kill (the journal is in the OS cache; `fsync: true` adds power-loss
 * safety at a cost in throughput). On open, `snapshot.json` is loaded and the journal replayed; `compact()` writes a
 * new snapshot atomically and empties the journal. Without a directory the store is memory-only.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

type Entry =
  | { t: 'put'; c: string; k: string; v: unknown }
  | { t: 'del'; c: string; k: string }
  | { t: 'ctr'; c: string; v: number };

interface Snapshot {
  collections: Record<string, Record<string, unknown>>;
  counters: Record<string, number>;
}

export interface StateStoreOptions {
  /** Folder for snapshot and journal; absent = memory only. */
  dir?: string | undefined;
  /** fsync each journal write (slower; survives power loss, not just process death). */
  fsync?: boolean;
  /** Compact automatically once the journal holds this many entries. */
  compactEvery?: number;
}

export class Collection<T> {
  constructor(
    private readonly store: StateStore,
    readonly name: string,
    private readonly map: Map<string, T>,
  ) {}

  get(key: string | number): T | undefined {
    return this.map.get(String(key));
  }

  has(key: string | number): boolean {
    return this.map.has(String(key));
  }

  /** Stores a record; the value is journaled as JSON, so keep records plain data. */
  put(key: string | number, value: T): T {
    this.map.set(String(key), value);
    this.store.record({ t: 'put', c: this.name, k: String(key), v: value });
    return value;
  }

  delete(key: string | number): boolean {
    const had = this.map.delete(String(key));
    if (had) this.store.record({ t: 'del', c: this.name, k: String(key) });
    return had;
  }

  values(): IterableIterator<T> {
    return this.map.values();
  }

  entries(): IterableIterator<[string, T]> {
    return this.map.entries();
  }

  get size(): number {
    return this.map.size;
  }
}

export class Counter {
  constructor(
    private readonly store: StateStore,
    readonly name: string,
    private value: number,
  ) {}

  /** The next value (strictly increasing, never reused across restarts). */
  next(): number {
    this.value += 1;
    this.store.record({ t: 'ctr', c: this.name, v: this.value });
    return this.value;
  }

  /** Raises the counter to at least `value` (e.g. a login range's start). */
  atLeast(value: number): void {
    if (value > this.value) {
      this.value = value;
      this.store.record({ t: 'ctr', c: this.name, v: value });
    }
  }

  get current(): number {
    return this.value;
  }

  /** @internal */
  restore(value: number): void {
    this.value = value;
  }
}

export class StateStore {
  private readonly collections = new Map<string, Map<string, unknown>>();
  private readonly collectionViews = new Map<string, Collection<unknown>>();
  private readonly counters = new Map<string, Counter>();
  private fd: number | undefined;
  private journalEntries = 0;
  private closed = false;

  private constructor(private readonly options: StateStoreOptions) {}

  /** Opens (or creates) the state in `options.dir`, replaying whatever was acknowledged before the last stop. */
  static open(options: StateStoreOptions = {}): StateStore {
    const store = new StateStore(options);
    if (options.dir) store.load(options.dir);
    return store;
  }

  /** True when the store was loaded from existing files (the simulator restarted rather than started fresh). */
  restored = false;

  collection<T>(name: string): Collection<T> {
    let view = this.collectionViews.get(name);
    if (!view) {
      let map = this.collections.get(name);
      if (!map) {
        map = new Map();
        this.collections.set(name, map);
      }
      view = new Collection<unknown>(this, name, map);
      this.collectionViews.set(name, view);
    }
    return view as Collection<T>;
  }

  counter(name: string, start = 0): Counter {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter(this, name, start);
      this.counters.set(name, c);
    }
    return c;
  }

  /** @internal Appends one mutation to the journal (synchronously, before the caller can reply). */
  record(entry: Entry): void {
    if (this.closed) throw new Error('state store is closed');
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    if (this.options.fsync) fsyncSync(this.fd);
    this.journalEntries += 1;
    if (this.journalEntries >= (this.options.compactEvery ?? 200_000)) this.compact();
  }

  /** Writes a full snapshot atomically and starts an empty journal. */
  compact(): void {
    const dir = this.options.dir;
    if (!dir || this.fd === undefined) return;
    const snapshot: Snapshot = { collections: {}, counters: {} };
    for (const [name, map] of this.collections) snapshot.collections[name] = Object.fromEntries(map);
    for (const [name, counter] of this.counters) snapshot.counters[name] = counter.current;
    const tmp = join(dir, 'snapshot.json.tmp');
    writeFileSync(tmp, JSON.stringify(snapshot));
    const tmpFd = openSync(tmp, 'r');
    fsyncSync(tmpFd);
    closeSync(tmpFd);
    renameSync(tmp, join(dir, 'snapshot.json'));
    closeSync(this.fd);
    this.fd = openSync(join(dir, 'journal.jsonl'), 'w');
    this.journalEntries = 0;
  }

  close(): void {
    if (this.closed) return;
    this.compact();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.closed = true;
  }

  private load(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const snapshotPath = join(dir, 'snapshot.json');
    const journalPath = join(dir, 'journal.jsonl');
    if (existsSync(snapshotPath)) {
      const snapshot = JSON.parse(readFileSync(snapshotPath, 'utf8')) as Snapshot;
      for (const [name, records] of Object.entries(snapshot.collections)) {
        this.collections.set(name, new Map(Object.entries(records)));
      }
      for (const [name, value] of Object.entries(snapshot.counters)) this.counter(name).restore(value);
      this.restored = true;
    }
    if (existsSync(journalPath)) {
      const lines = readFileSync(journalPath, 'utf8').split('\n');
      for (const [i, line] of lines.entries()) {
        if (!line) continue;
        let entry: Entry;
        try {
          entry = JSON.parse(line) as Entry;
        } catch {
          // Only the very last line can be torn (a kill in the middle of a write); that entry was never acknowledged.
          if (i >= lines.length - 2) break;
          throw new Error(`state journal ${journalPath} is corrupt at line ${i + 1}`);
        }
        this.apply(entry);
        this.restored = true;
      }
    }
    this.fd = openSync(journalPath, 'a');
    // Fold the replayed journal into a snapshot so start-up time does not grow without bound.
    if (this.restored) this.compact();
  }

  private apply(entry: Entry): void {
    if (entry.t === 'ctr') {
      this.counter(entry.c).restore(entry.v);
      return;
    }
    let map = this.collections.get(entry.c);
    if (!map) {
      map = new Map();
      this.collections.set(entry.c, map);
    }
    if (entry.t === 'put') map.set(entry.k, entry.v);
    else map.delete(entry.k);
  }
}
