/**
 * The PostgreSQL ledger sends a batch's rows as one array literal per column (pgStore `arrayElement`,
 * `byteaArray`, `parseBulkInsert`): every value must come back from a real server exactly as it was,
 * whatever it holds (quotes, backslashes, braces, commas, the word NULL, blanks, non-ASCII, bytes).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlArg } from '../src/ledger/ledgerWriter.js';
import { byteaArray, parseBulkInsert } from '../src/ledger/pgStore.js';
import { type RunningPostgres, startPostgres } from './support/postgres.js';

const HOSTILE_TEXT = [
  '',
  ' ',
  '  padded  ',
  'NULL',
  'null',
  '"',
  '\\',
  '\\"',
  '"\\',
  'a,b',
  '{a}',
  '}{',
  '{"x":1}',
  "it's",
  'line\nbreak\ttab\r',
  'gpt-4o-mini',
  'ünïcödé 模型 🚀',
  '\\x00ff',
  'ends with backslash \\',
];

describe('PostgreSQL array literals (real server)', () => {
  let server: RunningPostgres;
  let client: pg.Client;

  beforeAll(async () => {
    server = await startPostgres();
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query(
      'CREATE TABLE t (id INTEGER NOT NULL, n BIGINT, s TEXT, f DOUBLE PRECISION, b BYTEA, PRIMARY KEY (id))',
    );
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  it('round-trips text, integers, floats, bytes and nulls through a bulk insert', async () => {
    const rows: SqlArg[][] = [];
    const bytes = [new Uint8Array(0), randomBytes(12), Buffer.from('"\\{},'), randomBytes(1)];
    const ints: (number | bigint | null)[] = [
      0,
      -1,
      1,
      2 ** 53 - 1,
      -(2 ** 53) + 1,
      9223372036854775807n,
      null,
    ];
    const floats = [0, -0.5, 1e-9, 123456.789, 1e21, null];
    const n = Math.max(HOSTILE_TEXT.length + 1, ints.length, floats.length, bytes.length + 1);
    for (let i = 0; i < n; i++)
      rows.push([
        i,
        ints[i % ints.length] ?? null,
        i < HOSTILE_TEXT.length ? (HOSTILE_TEXT[i] as string) : null,
        floats[i % floats.length] ?? null,
        i < bytes.length ? (bytes[i] as Uint8Array) : null,
      ]);
    const types = new Map([
      ['t.id', 'integer'],
      ['t.n', 'bigint'],
      ['t.s', 'text'],
      ['t.f', 'double precision'],
      ['t.b', 'bytea'],
    ]);
    const shape = parseBulkInsert('INSERT INTO t (id, n, s, f, b) VALUES (?, ?, ?, ?, ?)', types, 'lit_1');
    expect(shape).not.toBeNull();
    const columns = shape?.columns(rows) ?? [];
    expect(columns.every((c) => typeof c === 'string')).toBe(true);
    await client.query({ name: shape?.name, text: shape?.text ?? '', values: columns });
    const back = await client.query({
      text: 'SELECT id, n::text AS n, s, f, b FROM t ORDER BY id',
      rowMode: 'array',
    });
    expect(back.rows.length).toBe(rows.length);
    for (const [i, row] of rows.entries()) {
      const [id, nText, s, f, b] = back.rows[i] as [
        number,
        string | null,
        string | null,
        number | null,
        Buffer | null,
      ];
      expect(id).toBe(i);
      expect(nText).toBe(row[1] === null ? null : String(row[1]));
      expect(s).toBe(row[2]);
      expect(f).toBe(row[3]);
      expect(b === null ? null : [...b]).toEqual(row[4] === null ? null : [...(row[4] as Uint8Array)]);
    }
  });

  it('round-trips a large bytea[] of dedup hashes', async () => {
    const hashes = Array.from({ length: 5000 }, () => randomBytes(12));
    const res = await client.query({
      text: 'SELECT h FROM unnest($1::bytea[]) WITH ORDINALITY AS u(h, i) ORDER BY i',
      values: [byteaArray(hashes)],
    });
    expect(res.rows.map((r: { h: Buffer }) => r.h.toString('hex'))).toEqual(
      hashes.map((h) => h.toString('hex')),
    );
    expect(
      (await client.query({ text: 'SELECT cardinality($1::bytea[]) AS n', values: [byteaArray([])] })).rows[0]
        .n,
    ).toBe(0);
  });
});
