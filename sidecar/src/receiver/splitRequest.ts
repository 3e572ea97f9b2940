import type { OtlpSignal } from './otlpProto.js';

const KEYS: Record<OtlpSignal, [top: string, scopes: string, records: string]> = {
  logs: ['resourceLogs', 'scopeLogs', 'logRecords'],
  traces: ['resourceSpans', 'scopeSpans', 'spans'],
};

export type SplitResult = { ok: true; lines: string[] } | { ok: false; reason: string };

type Obj = Record<string, unknown>;
const objects = (v: unknown): Obj[] =>
  Array.isArray(v) ? v.filter((x): x is Obj => x !== null && typeof x === 'object') : [];
const bytes = (s: string) => Buffer.byteLength(s);

/**
 * One OTLP/JSON export request as file-export lines of at most `maxLineBytes` each, so that every
 * line the receiver writes is one the sidecar reads (its --max-line-bytes). A request that fits is one
 * line, as the collector writes it; a bigger one is split between records, each line a valid request
 * carrying its records' resource and scope. Fails only when one record alone (with its resource and
 * scope) is over the limit.
 */
export function splitExportRequest(signal: OtlpSignal, message: Obj, maxLineBytes: number): SplitResult {
  const whole = JSON.stringify(message);
  if (bytes(whole) <= maxLineBytes) return { ok: true, lines: [whole] };
  const [topKey, scopesKey, recordsKey] = KEYS[signal];
  const base = bytes(JSON.stringify({ ...message, [topKey]: [] }));
  const lines: string[] = [];
  type OpenScope = { scope: Obj; records: unknown[] };
  type OpenResource = { resource: Obj; scopes: OpenScope[] };
  let current: OpenResource[] = [];
  let size = base;
  const flush = () => {
    if (current.length === 0) return;
    const line = JSON.stringify({
      ...message,
      [topKey]: current.map((r) => ({
        ...r.resource,
        [scopesKey]: r.scopes.map((s) => ({ ...s.scope, [recordsKey]: s.records })),
      })),
    });
    // The size is counted with a comma per element, so it bounds the line from above.
    if (bytes(line) > maxLineBytes) throw new Error('splitExportRequest: a line outgrew its bound');
    lines.push(line);
    current = [];
    size = base;
  };
  for (const resource of objects(message[topKey])) {
    // Sizes of the envelopes without their lists, plus one comma each.
    const resourceBytes = bytes(JSON.stringify({ ...resource, [scopesKey]: [] })) + 1;
    let openResource: OpenResource | undefined;
    for (const scope of objects(resource[scopesKey])) {
      const scopeBytes = bytes(JSON.stringify({ ...scope, [recordsKey]: [] })) + 1;
      let openScope: OpenScope | undefined;
      for (const record of Array.isArray(scope[recordsKey]) ? (scope[recordsKey] as unknown[]) : []) {
        const recordBytes = bytes(JSON.stringify(record)) + 1;
        const need = () =>
          recordBytes +
          (openScope === undefined ? scopeBytes : 0) +
          (openResource === undefined ? resourceBytes : 0);
        if (size + need() > maxLineBytes && current.length > 0) {
          flush();
          openResource = undefined;
          openScope = undefined;
        }
        if (size + need() > maxLineBytes) {
          return {
            ok: false,
            reason: `one ${signal === 'logs' ? 'log record' : 'span'} is over the ${maxLineBytes}-byte line limit`,
          };
        }
        size += need();
        if (openResource === undefined) {
          openResource = { resource, scopes: [] };
          current.push(openResource);
        }
        if (openScope === undefined) {
          openScope = { scope, records: [] };
          openResource.scopes.push(openScope);
        }
        openScope.records.push(record);
      }
    }
  }
  flush();
  return { ok: true, lines };
}
