import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerStore } from '../ledger/store.js';
import { mdText } from '../report/markdown.js';
import { usdDecimal, usdFormatter } from '../report/money.js';
import {
  type DayRange,
  type ReconciledDay,
  reconcileDays,
  type TopSpender,
  topSpenders,
} from './reconcileDays.js';

export interface FlaggedDay extends ReconciledDay {
  topModels: TopSpender[];
  topServices: TopSpender[];
}

export interface ReconciliationReport {
  range: DayRange;
  tolerancePct: number;
  days: ReconciledDay[];
  flagged: FlaggedDay[];
}

export async function buildReconciliationReport(
  db: LedgerStore,
  range: DayRange,
  tolerancePct: number,
): Promise<ReconciliationReport> {
  const days = await reconcileDays(db, range, tolerancePct);
  const flagged: FlaggedDay[] = [];
  for (const d of days) {
    if (d.status !== 'beyond_tolerance') continue;
    const top = await topSpenders(db, d.provider, d.day);
    flagged.push({ ...d, topModels: top.models, topServices: top.services });
  }
  return { range, tolerancePct, days, flagged };
}

function shareText(share: number | null): string {
  return share === null ? '—' : `${(share * 100).toFixed(1)}%`;
}

function dayJson(d: ReconciledDay) {
  return {
    day: d.day,
    provider: d.provider,
    tracked_usd: usdDecimal(d.trackedNano),
    tracked_exact_usd: usdDecimal(d.trackedExactNano),
    tracked_estimated_usd: usdDecimal(d.trackedEstimatedNano),
    unpriced_requests: d.unpricedRequests,
    billed_usd: d.billedNano === null ? null : usdDecimal(d.billedNano),
    billing_source: d.billingSource,
    untracked_usd: d.untrackedNano === null ? null : usdDecimal(d.untrackedNano),
    untracked_share: d.untrackedShare,
    tracked_tokens: d.trackedTokens,
    billed_tokens: d.billedTokens,
    status: d.status,
  };
}

/** JSON form (API and report file): money as exact decimal USD strings. */
export function reportToJson(report: ReconciliationReport) {
  return {
    from: report.range.fromDay,
    to: report.range.toDay,
    tolerance_pct: report.tolerancePct,
    days: report.days.map(dayJson),
    flagged: report.flagged.map((d) => ({
      ...dayJson(d),
      top_models: d.topModels.map((m) => ({ model: m.name, tracked_usd: usdDecimal(m.trackedNano) })),
      top_services: d.topServices.map((s) => ({ service: s.name, tracked_usd: usdDecimal(s.trackedNano) })),
    })),
  };
}

export function reportToMarkdown(report: ReconciliationReport): string {
  // One exact number of decimals for every amount in the report (docs/reconciliation.md, "Money").
  const usd = usdFormatter([
    ...report.days.flatMap((d) => [
      d.trackedNano,
      d.trackedExactNano,
      d.trackedEstimatedNano,
      d.billedNano,
      d.untrackedNano,
    ]),
    ...report.flagged.flatMap((d) => [...d.topModels, ...d.topServices].map((t) => t.trackedNano)),
  ]);
  const money = (n: bigint | number | null) => (n === null ? '—' : usd(n));
  const lines = [
    `# Reconciliation ${report.range.fromDay} … ${report.range.toDay}`,
    '',
    `Tracked = ledger (each record's own UTC day); billed = provider export; untracked = billed − tracked. Tolerance ±${report.tolerancePct}%.`,
    '',
    '| day | provider | tracked | exact | estimated | unpriced req | billed | untracked | share | tracked tokens | billed tokens | status |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...report.days.map(
      (d) =>
        `| ${d.day} | ${mdText(d.provider)} | ${money(d.trackedNano)} | ${money(d.trackedExactNano)} | ${money(d.trackedEstimatedNano)} | ${d.unpricedRequests} | ${money(d.billedNano)} | ${money(d.untrackedNano)} | ${shareText(d.untrackedShare)} | ${d.trackedTokens} | ${d.billedTokens ?? '—'} | ${d.status === 'beyond_tolerance' ? '**beyond tolerance**' : d.status.replace(/_/g, ' ')} |`,
    ),
    '',
    `## Days beyond tolerance (${report.flagged.length})`,
    '',
  ];
  if (report.flagged.length === 0) lines.push('None.');
  for (const d of report.flagged) {
    lines.push(
      `### ${d.day} ${mdText(d.provider)}: untracked ${money(d.untrackedNano)} (${shareText(d.untrackedShare)} of ${money(d.billedNano)} billed)`,
      '',
      `- Top models by tracked spend: ${d.topModels.map((m) => `${mdText(m.name)} ${usd(m.trackedNano)}`).join(', ') || 'none tracked'}`,
      `- Top services by tracked spend: ${d.topServices.map((s) => `${mdText(s.name)} ${usd(s.trackedNano)}`).join(', ') || 'none tracked'}`,
      d.unpricedRequests > 0
        ? `- ${d.unpricedRequests} unpriced requests tracked that day (their cost is unknown, not $0).`
        : '',
      '',
    );
  }
  return `${lines.filter((l, i, all) => !(l === '' && all[i - 1] === '')).join('\n')}\n`;
}

/** Writes `reconciliation-<to>.md` and `.json` into dir; returns their paths. */
export function writeReconciliationReport(
  dir: string,
  report: ReconciliationReport,
): { markdown: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `reconciliation-${report.range.toDay}`);
  writeFileSync(`${base}.md`, reportToMarkdown(report));
  writeFileSync(`${base}.json`, `${JSON.stringify(reportToJson(report), null, 2)}\n`);
  return { markdown: `${base}.md`, json: `${base}.json` };
}
