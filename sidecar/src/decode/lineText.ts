/**
 * The line without what may precede its JSON and is never part of it: a UTF-8 byte order mark (a file
 * written by a Windows tool starts with one) and NUL bytes (the hole a writer without O_APPEND leaves
 * when its file is truncated under it: it keeps writing at its old offset).
 */
export function withoutLeadingNoise(line: string): string {
  let i = 0;
  while (i < line.length && (line.charCodeAt(i) === 0 || line.charCodeAt(i) === 0xfeff)) i++;
  return i === 0 ? line : line.slice(i);
}

/** Only whitespace (JSON's: space, tab, CR, LF). */
export function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}
