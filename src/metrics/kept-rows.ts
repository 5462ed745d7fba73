/**
 * The rows (label set → value) of a metric that is read at each scrape, kept from one scrape to
 * the next: one row object per label set, with its label object, its value updated in place,
 * and the list of rows rebuilt only when a set comes or goes. prom-client's registry formats
 * that list as it is.
 *
 * Why: anything a scrape leaves for the next one lives a scrape interval, long enough to outlive
 * two scavenges of the main thread's young generation (one every ~0.8 s under the feed), so V8
 * promotes it, and it dies in old space, where only a major GC frees it. prom-client's own
 * metrics rebuild theirs at every scrape (`reset()`: a new hash map, a new `{ value, labels }`
 * per row); with a scrape a second the soak's old space grew ~12 KB/s of them (--trace-gc-nvp:
 * ~9 KB promoted a scavenge; V8's sampling heap profiler, keeping what survived minor GCs, put
 * it under the metrics' collect). Label objects built afresh at each scrape cost more: maps and
 * for-in enum caches, which V8 allocates in old space directly. Kept, each costs that once.
 *
 * Bounded: a set not read at a scrape is dropped from the rows at that scrape.
 */
export type Labels = Record<string, string | number>;
export interface Row {
  readonly labels: Labels;
  value: number;
}
interface KeptRow extends Row {
  seen: number;
}

export class KeptRows {
  private readonly byKey = new Map<string, KeptRow>();
  private rows: KeptRow[] = [];
  private scrapes = 0;

  /**
   * @param names the metric's label names, in its order
   * @param same what two rows with the same labels in one read make: their sum (a counter's
   *   parts), or the last (a gauge)
   */
  constructor(
    private readonly names: readonly string[],
    private readonly same: 'sum' | 'last',
  ) {}

  /** This scrape's rows, from what the metric's source reads now. */
  update(read: Iterable<readonly [Labels, number]>): readonly Row[] {
    const scrape = ++this.scrapes;
    let changed = false;
    for (const [labels, value] of read) {
      const key = this.keyOf(labels);
      let row = this.byKey.get(key);
      if (!row) {
        row = { labels: this.copy(labels), value, seen: scrape };
        this.byKey.set(key, row);
        changed = true;
      } else if (row.seen === scrape && this.same === 'sum') {
        row.value += value;
      } else {
        row.value = value;
        row.seen = scrape;
      }
    }
    for (const [key, row] of this.byKey) {
      if (row.seen === scrape) continue;
      this.byKey.delete(key);
      changed = true;
    }
    if (changed) this.rows = [...this.byKey.values()];
    return this.rows;
  }

  /** A label left out and one given as '' are different sets: \u0001 stands for the first. */
  private keyOf(labels: Labels): string {
    let key = '';
    for (const n of this.names) key += labels[n] === undefined ? '\u0001\u0000' : `${labels[n]}\u0000`;
    return key;
  }

  /** The labels in the metric's order (one object shape per metric); a label it does not declare is refused by name. */
  private copy(labels: Labels): Labels {
    for (const k of Object.keys(labels)) {
      if (!this.names.includes(k)) throw new Error(`label "${k}" is not one of this metric's labels (${this.names.join(', ')})`);
    }
    const kept: Labels = {};
    for (const n of this.names) if (labels[n] !== undefined) kept[n] = labels[n];
    return kept;
  }
}
