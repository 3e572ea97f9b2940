/**
 * The one CSV writer of every export (`/api/usage?format=csv`, `/api/usage/overall?format=csv`,
 * `/api/reconciliation?format=csv`, `spendline report --format csv`): RFC 4180 quoting and OWASP's
 * CSV-injection neutralisation, so a provider, model or feature name can neither forge a row nor run
 * as a spreadsheet formula.
 */

/** A cell: numbers are written as they are; strings are text (and neutralised when they could be a formula). */
export type CsvCell = string | number | bigint | null | undefined;

/** A plain decimal (`12`, `-0.5`): a spreadsheet reads it as a number, never as a formula. */
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;
/** First characters a spreadsheet treats as the start of a formula (OWASP CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One field: a leading `'` when it could be read as a formula, quoted when it holds `"`, `,`, CR or LF. */
export function csvField(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  if (typeof value !== 'string') return String(value);
  if (FORMULA_START.test(value) && !PLAIN_NUMBER.test(value)) return `"'${value.replace(/"/g, '""')}"`;
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** A whole document: header and rows, CRLF line ends, a final CRLF (RFC 4180). */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  const lines = [header.map(csvField).join(',')];
  for (const row of rows) lines.push(row.map(csvField).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
