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
 * Caps distinct values per label. The first `cap` distinct values are admitted (and persisted, so the
 * decision survives restarts and restored counters land on the same series); later ones fold into
 * `other` and are counted as overflow.
 */
export class LabelCaps {
  private readonly admitted = new Map<string, Set<string>>();
  /** Values admitted since the last `takeAdmitted()` (to persist with the batch). */
  private pending: [string, string][] = [];

  constructor(private readonly caps: Record<CappedLabel, number>) {
    for (const l of CAPPED_LABELS) this.admitted.set(l, new Set());
  }

  restore(label: string, value: string): void {
    this.admitted.get(label)?.add(value);
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
