/**
 * Label objects for metrics read at each scrape: one object per distinct set of label values,
 * built once, in the metric's label order, and handed to prom-client again at every scrape.
 *
 * Why: prom-client checks every label object it is given with a for-in, and V8 keeps what a
 * for-in needs (the object map's enum cache) in old space. Label objects made afresh at each
 * scrape (spreads, computed keys) came with maps V8 had to build and cache for again: perf, with
 * a uprobe on V8's old-space allocation path in the soak, put ~45 % of what xsk's main thread
 * still put in old space there, ~15 KB a scrape. The same objects every time cost that once.
 *
 * Bounded: sets not seen for two scrapes are dropped.
 */
type Labels = Record<string, string | number>;

export class LabelSets {
  private current = new Map<string, Labels>();
  private previous = new Map<string, Labels>();

  constructor(private readonly names: readonly string[]) {}

  /** Call at the start of each scrape. */
  scrape(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  /**
   * The kept object with the same values as `labels`, or `labels` itself when it has a label the
   * metric does not declare (prom-client then names it in its error).
   */
  get(labels: Labels): Labels {
    let key = '';
    // A label left out and one given as '' are different sets: \u0001 stands for the first.
    for (const n of this.names) key += labels[n] === undefined ? '\u0001\u0000' : `${labels[n]}\u0000`;
    let kept = this.current.get(key) ?? this.previous.get(key);
    if (!kept) {
      kept = {};
      let given = 0;
      for (const n of this.names) {
        const v = labels[n];
        if (v === undefined) continue;
        kept[n] = v;
        given++;
      }
      if (Object.keys(labels).length !== given) return labels;
    }
    this.current.set(key, kept);
    return kept;
  }
}
