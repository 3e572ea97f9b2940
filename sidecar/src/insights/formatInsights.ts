import { mdText, plainText } from '../report/markdown.js';
import { usdExact } from '../report/money.js';
import type { Insight } from './types.js';

export const INSIGHT_FORMATS = ['table', 'json', 'markdown'] as const;
export type InsightFormat = (typeof INSIGHT_FORMATS)[number];

const scopeText = (i: Insight) =>
  Object.entries(i.scope)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
const savingText = (i: Insight) =>
  i.monthlySaving.known
    ? `${usdExact(i.monthlySaving.nanoUsd)}/month`
    : `unknown (${i.monthlySaving.reason})`;
const evidenceText = (i: Insight) =>
  Object.entries(i.evidence)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

/** JSON shape of an insight (API and `--format json`): money as exact decimal USD strings. */
export function insightToJson(i: Insight) {
  const n = i.monthlySaving.known ? i.monthlySaving.nanoUsd : undefined;
  return {
    kind: i.kind,
    scope: i.scope,
    evidence: i.evidence,
    change: i.change,
    monthly_saving_usd:
      n === undefined
        ? 'unknown'
        : `${n / 1_000_000_000n}.${(n % 1_000_000_000n).toString().padStart(9, '0')}`,
    ...(i.monthlySaving.known ? {} : { unknown_reason: i.monthlySaving.reason }),
  };
}

export function formatInsights(list: Insight[], format: InsightFormat, daysBack: number): string {
  if (format === 'json')
    return `${JSON.stringify({ days_back: daysBack, insights: list.map(insightToJson) }, null, 2)}\n`;
  if (list.length === 0)
    return `No insights for the last ${daysBack} days: nothing crossed the thresholds.\n`;
  if (format === 'markdown') {
    const lines = [
      `# spendline insights (last ${daysBack} days)`,
      '',
      '| # | kind | scope | saving | change | evidence |',
      '| --- | --- | --- | --- | --- | --- |',
    ];
    list.forEach((i, n) => {
      lines.push(
        `| ${n + 1} | ${i.kind} | ${mdText(scopeText(i))} | ${mdText(savingText(i))} | ${mdText(i.change)} | ${mdText(evidenceText(i))} |`,
      );
    });
    return `${lines.join('\n')}\n`;
  }
  const out = [`spendline insights — last ${daysBack} days, sorted by estimated saving per 30 days`, ''];
  list.forEach((i, n) => {
    out.push(`${n + 1}. [${i.kind}] ${plainText(scopeText(i))}`);
    out.push(`   saving:   ${plainText(savingText(i))}`);
    out.push(`   change:   ${plainText(i.change)}`);
    out.push(`   evidence: ${plainText(evidenceText(i))}`);
    out.push('');
  });
  return out.join('\n');
}
