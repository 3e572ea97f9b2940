/** The label whose value replaces any value past a label's cap. */
export const OVERFLOW_VALUE = 'other';

/** Labels whose values come from the records (enums such as status or token_type need no cap). */
export const CAPPED_LABELS = ['provider', 'model', 'service', 'operation', 'feature'] as const;
export type CappedLabel = (typeof CAPPED_LABELS)[number];

export const DEFAULT_LABEL_CAPS: Record<CappedLabel, number> = {
  provider: 50,
  model: 250,
  service: 250,
  operation: 20,
  feature: 250,
};

/**
 * Distinct (provider, model, service, operation, feature) combinations shown in /metrics (--max-series).
 * Per-label caps alone allow 50 x 250 x 250 x 20 x 250 combinations; this bounds the exposition:
 * at most (maxSeries + 1) combinations, each at most ~50 sample lines (see docs/security.md).
 */
export const DEFAULT_MAX_SERIES = 2000;
/** The label_value row label under which admitted combinations are persisted. */
const SERIES = 'series';

/**
 * Caps distinct values per label. The first `cap` distinct values are admitted (and persisted, so the
 * decision survives restarts and restored counters land on the same series); later ones fold into
 * `other` and are counted as overflow.
 */
export class LabelCaps {
  private readonly admitted = new Map<string, Set<string>>();
  /** Admitted combinations of the capped labels' (folded) values, joined by \u0001. */
  private readonly series = new Set<string>();
  /** Values admitted since the last `takeAdmitted()` (to persist with the batch). */
  private pending: [string, string][] = [];

  constructor(
    private readonly caps: Record<CappedLabel, number>,
    private readonly maxSeries = DEFAULT_MAX_SERIES,
  ) {
    for (const l of CAPPED_LABELS) this.admitted.set(l, new Set());
  }

  restore(label: string, value: string): void {
    if (label === SERIES) this.series.add(value);
    else this.admitted.get(label)?.add(value);
  }

  /**
   * After each value is folded: the combination itself, or every value `other` (with `overflowed`
   * called with "series") once `maxSeries` combinations are admitted. Persisted like values.
   */
  foldSeries(values: string[], overflowed: (label: string) => void): string[] {
    if (values.every((v) => v === OVERFLOW_VALUE)) return values;
    const key = values.join('\u0001');
    if (this.series.has(key)) return values;
    if (this.series.size < this.maxSeries) {
      this.series.add(key);
      this.pending.push([SERIES, key]);
      return values;
    }
    overflowed(SERIES);
    return values.map(() => OVERFLOW_VALUE);
  }

  /** Returns the value to use as label, or OVERFLOW_VALUE with `overflowed` called. */
  fold(label: CappedLabel, value: string, overflowed: (label: string) => void): string {
    const set = this.admitted.get(label) as Set<string>;
    if (set.has(value)) return value;
    if (set.size < this.caps[label]) {
      set.add(value);
      this.pending.push([label, value]);
      return value;
    }
    overflowed(label);
    return OVERFLOW_VALUE;
  }

  takeAdmitted(): [string, string][] {
    const out = this.pending;
    this.pending = [];
    return out;
  }
}
