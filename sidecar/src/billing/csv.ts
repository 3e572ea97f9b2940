/** A CSV record with the 1-based file line it starts on (quoted fields may span lines). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * RFC 4180 reader: `,` separated, `"` quoted with `""` escapes, CRLF or LF, BOM stripped.
 * Blank lines are skipped. Returns every record including the header.
 */
export function parseCsv(text: string): CsvRecord[] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let fieldStarted = false;
  const endRecord = () => {
    if (fieldStarted || fields.length > 0 || field !== '') {
      fields.push(field);
      records.push({ line: recordLine, fields });
    }
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (quoted) {
      if (c === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field === '') {
      // A quote opens a quoted field only at its start; elsewhere it is a literal character.
      quoted = true;
      fieldStarted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      fieldStarted = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && src[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      if (!fieldStarted && fields.length === 0 && field === '') recordLine = line;
      field += c;
      fieldStarted = true;
    }
  }
  endRecord();
  return records;
}

/** Header name → column index lookup; names compared trimmed and case-insensitively. */
export function headerIndex(header: string[]): (name: string) => number | undefined {
  const map = new Map<string, number>();
  header.forEach((h, i) => {
    const key = h.trim().toLowerCase();
    if (!map.has(key)) map.set(key, i);
  });
  return (name) => map.get(name.toLowerCase());
}
