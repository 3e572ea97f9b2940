import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usdToNano } from '@spendline/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { importBillingFile } from '../src/billing/importBillingFile.js';
import { LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';

// docs/reconciliation.md shows a sample export of every supported format for users to copy. Each
// block is preceded by `<!-- billing-sample: FORMAT PROVIDER DAY USD -->`; this imports every one.

const DOC = new URL('../../docs/reconciliation.md', import.meta.url);
const FORMATS = [
  'openai_costs',
  'anthropic_cost_report',
  'openrouter_activity',
  'generic_jsonl',
  'gcp_billing_export_jsonl',
  'gcp_billing_export_csv',
  'gcp_cost_table_csv',
  'aws_cur2_csv',
  'azure_cost_csv',
];

interface Sample {
  format: string;
  provider: string;
  day: string;
  usd: string;
  text: string;
}

function docSamples(markdown: string): Sample[] {
  const out: Sample[] = [];
  const re = /<!-- billing-sample: (\S+) (\S+) (\S+) (\S+) -->\n```\w*\n([\s\S]*?)```/g;
  for (const m of markdown.matchAll(re)) {
    out.push({
      format: m[1] ?? '',
      provider: m[2] ?? '',
      day: m[3] ?? '',
      usd: m[4] ?? '',
      text: m[5] ?? '',
    });
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'spendline-doc-samples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(LEDGER_BACKENDS)('the sample exports in docs/reconciliation.md (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  const samples = docSamples(readFileSync(DOC, 'utf8'));

  it('cover every format the importer recognises, once each', () => {
    expect(samples.map((s) => s.format).sort()).toEqual([...FORMATS].sort());
  });

  for (const format of FORMATS) {
    it(`${format}: imports with no rejection, as the doc says`, async () => {
      const sample = samples.find((s) => s.format === format);
      if (sample === undefined) throw new Error(`no sample for ${format} in the doc`);
      const db = await ledgers.open();
      try {
        const file = join(dir, `${format}.sample`);
        writeFileSync(file, sample.text);
        const r = await importBillingFile(db, file, 1_800_000_000_000);
        if (!r.ok) throw new Error(r.reason);
        expect(r.format).toBe(format); // imported at all means no row was rejected (all-or-nothing)
        expect(r.accepted).toBeGreaterThan(0);
        const expected = usdToNano(sample.usd);
        if (!expected.ok) throw new Error(`bad amount in the doc: ${sample.usd}`);
        expect(
          await db.all(
            'SELECT provider, day, SUM(cost_nano_usd) AS nano FROM billing_daily GROUP BY provider, day',
          ),
        ).toEqual([{ provider: sample.provider, day: sample.day, nano: expected.nano }]);
      } finally {
        await db.close();
      }
    });
  }
});
