/** C0 controls (ESC starts terminal escape sequences), DEL and C1 controls; a newline is handled apart. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/g;

/**
 * Text from the ledger (provider, model, service, feature names: anything a service sent) made
 * inert in a Markdown report: HTML is escaped, `|` cannot open a table cell, `[`/`]` cannot make a
 * link, a newline cannot start a new row or heading, and control characters are replaced.
 */
export function mdText(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([|[\]])/g, '\\$1')
    .replace(/\r\n|[\r\n\u2028\u2029]/g, ' ')
    .replace(CONTROL, '\ufffd');
}

/** The same for plain-text tables printed to a terminal: one line, no escape sequences. */
export function plainText(value: string): string {
  return value.replace(/\r\n|[\r\n\u2028\u2029]/g, ' ').replace(CONTROL, '\ufffd');
}
