/**
 * The PostgreSQL ledger behind `LedgerStore`: one ledger shared by many sidecars (issue 19).
 *
 * - Same schema and migrations as SQLite (`toPgDdl` maps the column types), applied under an
 *   advisory lock so sidecars starting together migrate once; the version is in `spendline_schema`.
 * - A batch commits in ONE transaction, its writes as multi-row `INSERT … ON CONFLICT` statements
 *   (rows sorted by key, so concurrent sidecars lock shared rows in the same order and cannot
 *   deadlock; a deadlock or serialization failure is retried anyway).
 * - Dedup keys are global (`dedup_claim`, primary key = the 96-bit hash): a batch's keys are inserted
 *   first; a key another sidecar committed makes the batch write nothing and return it (see
 *   `commitBatch`). A concurrent insert of the same key waits for the other transaction, so the first
 *   commit wins and the other sees the conflict.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { yieldToLoop } from '../eventLoop.js';
import { HASH_BYTES } from '../pipeline/dedupIndex.js';
import type { SqlArg, WriteOp } from './ledgerWriter.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { bindArgs, type PgStatement, type SqlParams, toPgDdl, toPgPlaceholders } from './sqlText.js';
import type { BatchClaim, BatchResult, Dialect, LedgerQueries, LedgerStore, QueryOptions } from './store.js';

export const PG_DIALECT: Dialect = {
  hourLabel: (c) => `to_char(to_timestamp(${c}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":00:00Z"')`,
  dayLabel: (c) => `to_char(to_timestamp(${c}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  weekLabel: (c) => `to_char(date_trunc('week', to_timestamp(${c}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`,
  monthLabel: (c) => `to_char(to_timestamp(${c}) AT TIME ZONE 'UTC', 'YYYY-MM')`,
  like: 'ILIKE',
};

const INT8 = 20;
const INT2 = 21;
const INT4 = 23;
const NUMERIC = 1700;
const BOOL = 16;
const FLOAT4 = 700;
const FLOAT8 = 701;

/** Values as the SQLite backend returns them: numbers (or bigints), 1/0 for booleans. */
function typeParsers(bigint: boolean) {
  const toInt = bigint
    ? (s: string) => (/^-?\d+$/.test(s) ? BigInt(s) : Number(s))
    : (s: string) => Number(s);
  return {
    getTypeParser(oid: number, format?: string) {
      if (oid === INT8 || oid === INT2 || oid === INT4 || oid === NUMERIC) return toInt;
      if (oid === FLOAT4 || oid === FLOAT8) return (s: string) => Number(s);
      if (oid === BOOL) return (s: string) => (s === 't' ? 1 : 0);
      return pg.types.getTypeParser(oid, format as 'text');
    },
  };
}
const NUMBERS = typeParsers(false);
const BIGINTS = typeParsers(true);

/** Errors worth running the whole transaction again for. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 6;

export interface PgStoreOptions {
  url: string;
  sidecarId: string;
  /** Connections in the pool (the commit uses one, reads the others). */
  poolSize?: number;
  /** Hold this sidecar's identity (advisory lock) for the life of the store. */
  holdIdentity?: boolean;
}

export class SidecarIdInUseError extends Error {}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

export async function openPgStore(options: PgStoreOptions): Promise<LedgerStore> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 4,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: `spendline-sidecar ${options.sidecarId}`.slice(0, 63),
  } as pg.PoolConfig);
  // An idle client's error (the server restarted) must not crash the process: the pool drops it.
  pool.on('error', () => {});
  const location = redactUrl(options.url);
  const identity = options.holdIdentity === true ? identityHolder(options.url, options.sidecarId) : null;
  try {
    await migrate(pool, MIGRATIONS);
    await identity?.ensure();
  } catch (err) {
    await identity?.release();
    await pool.end().catch(() => {});
    throw err;
  }

  const statements = new Map<string, PgStatement>();
  const statement = (sql: string): PgStatement => {
    let st = statements.get(sql);
    if (st === undefined) {
      st = toPgPlaceholders(sql);
      statements.set(sql, st);
    }
    return st;
  };

  const on = (q: pg.Pool | pg.PoolClient): LedgerQueries => {
    /** The statement's rows: objects, or arrays of column values (`value`). */
    const query = async (
      sql: string,
      params: SqlParams | undefined,
      options: QueryOptions | undefined,
      arrays = false,
    ) => {
      const st = statement(sql);
      const res = await q.query({
        text: st.text,
        values: bindArgs(st, params).map(toPgValue),
        types: options?.bigint === true ? BIGINTS : NUMBERS,
        ...(arrays ? { rowMode: 'array' as const } : {}),
      });
      return res.rows as unknown[];
    };
    return {
      async all<T>(sql: string, params?: SqlParams, options?: QueryOptions) {
        return (await query(sql, params, options)) as T[];
      },
      async get<T>(sql: string, params?: SqlParams, options?: QueryOptions) {
        return (await query(sql, params, options))[0] as T | undefined;
      },
      async value<T>(sql: string, params?: SqlParams, options?: QueryOptions) {
        const row = (await query(sql, params, options, true))[0] as unknown[] | undefined;
        return row === undefined ? undefined : (row[0] as T);
      },
      async run(sql: string, params?: SqlParams) {
        const st = statement(sql);
        const res = await q.query({ text: st.text, values: bindArgs(st, params).map(toPgValue) });
        return res.rowCount ?? 0;
      },
      async lock(name: string) {
        await q.query("SELECT pg_advisory_xact_lock(hashtext('spendline lock ' || $1))", [name]);
      },
    };
  };

  async function inTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        const code = (err as { code?: string }).code;
        if (code !== undefined && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 5 * 2 ** attempt * (0.5 + Math.random())));
          continue;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  let lastExpiryMs = 0;
  // Column types, for bulk statements that take one array per column.
  const columnTypes = new Map<string, string>();
  for (const r of (
    await pool.query(
      'SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()',
    )
  ).rows as { table_name: string; column_name: string; data_type: string }[])
    columnTypes.set(`${r.table_name}.${r.column_name}`, r.data_type);
  const bulk = new Map<string, BulkInsert | null>();
  let bulkNames = 0;

  return {
    kind: 'postgres',
    location,
    dialect: PG_DIALECT,
    sidecarId: options.sidecarId,
    ...on(pool),
    transaction<T>(fn: (tx: LedgerQueries) => Promise<T>): Promise<T> {
      return inTransaction((client) => fn(on(client)));
    },
    async commitBatch(ops: WriteOp[], claim: BatchClaim | null): Promise<BatchResult> {
      // Each write's rows sorted and laid out as column arrays before the transaction (its locks are
      // held for the statements only), one write per event-loop turn: a large batch is no long stall.
      const prepared: { sql: string; shape: BulkInsert | null; rows: SqlArg[][]; columns: unknown[] }[] = [];
      for (const [sql, rows] of ops) {
        let shape = bulk.get(sql);
        if (shape === undefined) {
          shape = parseBulkInsert(sql, columnTypes, `spendline_bulk_${++bulkNames}`);
          bulk.set(sql, shape);
        }
        const sorted = sortedRows(rows);
        prepared.push({ sql, shape, rows: sorted, columns: shape === null ? [] : shape.columns(sorted) });
        await yieldToLoop();
      }
      const hashes = claim === null ? [] : splitHashes(claim.hashes);
      const hashLiteral = byteaArray(hashes);
      // Never commit as this sidecar without holding its identity.
      await identity?.ensure();
      const result = await inTransaction(async (client): Promise<BatchResult> => {
        if (claim !== null && hashes.length > 0) {
          const res = await client.query({
            // A claim older than the window is expired (deleted lazily): it is taken over. Not
            // RETURNING the claimed hashes: a batch's claims are nearly always all new, and sending
            // every hash back cost the client as much as sending it.
            text: `INSERT INTO dedup_claim (hash, seen_ms, sidecar_id)
                   SELECT h, $2, $3 FROM unnest($1::bytea[]) AS u(h) ORDER BY h
                   ON CONFLICT (hash) DO UPDATE SET seen_ms = excluded.seen_ms, sidecar_id = excluded.sidecar_id
                   WHERE dedup_claim.seen_ms < $4`,
            values: [hashLiteral, claim.nowMs, options.sidecarId, claim.expireBeforeMs],
          });
          if ((res.rowCount ?? 0) < hashes.length) {
            await client.query('ROLLBACK');
            // The hashes claimed by a commit within the window: everything this insert did not write.
            // (Read after the rollback: a claim committed since is taken too, as it would be on retry.)
            const live = await client.query({
              text: 'SELECT hash FROM dedup_claim WHERE hash = ANY($1::bytea[]) AND seen_ms >= $2',
              values: [hashLiteral, claim.expireBeforeMs],
            });
            await client.query('BEGIN');
            return { ok: false, taken: Buffer.concat((live.rows as { hash: Buffer }[]).map((r) => r.hash)) };
          }
        }
        for (const { sql, shape, rows, columns } of prepared) {
          if (rows.length === 0) continue;
          if (shape === null) {
            const st = statement(sql);
            for (const args of rows) await client.query({ text: st.text, values: args.map(toPgValue) });
            continue;
          }
          // One statement per write, whatever its row count: one array per column.
          await client.query({ name: shape.name, text: shape.text, values: columns });
        }
        return { ok: true };
      });
      if (result.ok && claim !== null && claim.nowMs - lastExpiryMs >= 60_000) {
        lastExpiryMs = claim.nowMs;
        // Outside the batch: expired claims of every sidecar; a failure here only delays it.
        await pool
          .query('DELETE FROM dedup_claim WHERE seen_ms < $1', [claim.expireBeforeMs])
          .catch(() => {});
      }
      return result;
    },
    async close(): Promise<void> {
      await identity?.release();
      await pool.end();
    },
  };
}

function toPgValue(v: SqlArg): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array && !Buffer.isBuffer(v))
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

function splitHashes(bytes: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i + HASH_BYTES <= buf.length; i += HASH_BYTES) out.push(buf.subarray(i, i + HASH_BYTES));
  return out.sort(Buffer.compare);
}

/** A write's rows, copied (a generator may reuse its array) and sorted by their leading values. */
function sortedRows(rows: WriteOp[1]): SqlArg[][] {
  const list: SqlArg[][] = [];
  for (const r of rows) list.push(Array.isArray(rows) ? r : r.slice());
  return list.sort(compareRows);
}

function compareRows(a: SqlArg[], b: SqlArg[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    if (typeof x === 'string' && typeof y === 'string') return x < y ? -1 : 1;
    if ((typeof x === 'number' || typeof x === 'bigint') && (typeof y === 'number' || typeof y === 'bigint'))
      return x < y ? -1 : x > y ? 1 : 0;
    const sx = String(x);
    const sy = String(y);
    if (sx !== sy) return sx < sy ? -1 : 1;
  }
  return a.length - b.length;
}

interface BulkInsert {
  /** A prepared statement's name (parsed and planned once per connection). */
  name: string;
  text: string;
  /** The rows' values as one array literal per `?` of the row template. */
  columns(rows: SqlArg[][]): string[];
}

const ARRAY_TYPES: Record<string, string> = {
  bigint: 'bigint[]',
  integer: 'integer[]',
  text: 'text[]',
  'double precision': 'float8[]',
  bytea: 'bytea[]',
};

/**
 * `INSERT INTO t (a, b, c) VALUES (?, 3600, ?) <rest>` as a statement taking any number of rows in
 * one array per placeholder: `INSERT INTO t (a, b, c) SELECT u.p0, 3600, u.p1 FROM unnest($1::bigint[],
 * $2::text[]) AS u(p0, p1) <rest>`. PostgreSQL parses and plans it once, whatever the row count (a
 * multi-row VALUES list is parsed value by value). Null for any other statement shape.
 */
export function parseBulkInsert(
  sql: string,
  columnTypes: Map<string, string>,
  name: string,
): BulkInsert | null {
  const m = /^\s*INSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)\s*VALUES\s*\(([^()]*)\)([\s\S]*)$/i.exec(sql);
  if (m === null) return null;
  const table = m[1] as string;
  const cols = (m[2] as string).split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  const tuple = (m[3] as string).split(',').map((v) => v.trim());
  if (cols.length !== tuple.length) return null;
  const select: string[] = [];
  const arrays: string[] = [];
  const aliases: string[] = [];
  for (let i = 0; i < cols.length; i++) {
    const v = tuple[i] as string;
    if (v === '?') {
      const type = ARRAY_TYPES[columnTypes.get(`${table}.${cols[i]}`) ?? ''];
      if (type === undefined) return null;
      const alias = `p${arrays.length}`;
      arrays.push(`$${arrays.length + 1}::${type}`);
      aliases.push(alias);
      select.push(`u.${alias}`);
    } else if (/^-?\d+$/.test(v)) select.push(v);
    else return null;
  }
  if (arrays.length === 0) return null;
  const rest = m[4] as string;
  if (rest.includes('?') || rest.includes('@')) return null;
  const text = `INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(', ')}) SELECT ${select.join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${aliases.join(', ')})${rest}`;
  const n = arrays.length;
  return {
    name,
    text,
    columns(rows: SqlArg[][]): string[] {
      const out: string[] = new Array(n);
      const parts: string[] = new Array(rows.length);
      for (let c = 0; c < n; c++) {
        for (let r = 0; r < rows.length; r++) parts[r] = arrayElement((rows[r] as SqlArg[])[c] as SqlArg);
        out[c] = `{${parts.join(',')}}`;
      }
      return out;
    },
  };
}

/**
 * One element of a PostgreSQL array literal (`{1,"a\\"b",NULL}`): what `pg` would send for a JS
 * array, built without its per-element type dispatch (a third of a batch's client time). Numbers are
 * written bare, strings always quoted with `"` and `\` escaped, bytes as quoted `\\x` hex.
 */
export function arrayElement(v: SqlArg): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return String(v);
    return Number.isNaN(v) ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
  }
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return quoteElement(v);
  return `"\\\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"`;
}

const NEEDS_ESCAPE = /["\\]/;

function quoteElement(s: string): string {
  return NEEDS_ESCAPE.test(s) ? `"${s.replace(/["\\]/g, '\\$&')}"` : `"${s}"`;
}

/** A list of byte strings as a PostgreSQL bytea[] literal. */
export function byteaArray(list: readonly Uint8Array[]): string {
  const parts: string[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) parts[i] = arrayElement(list[i] as Uint8Array);
  return `{${parts.join(',')}}`;
}

/** Applies pending migrations once, whoever starts first (transaction-scoped advisory lock). */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('spendline ledger migrations'))");
    await client.query('CREATE TABLE IF NOT EXISTS spendline_schema (version INTEGER NOT NULL)');
    const res = await client.query('SELECT version FROM spendline_schema');
    let current = res.rows.length === 0 ? 0 : Number((res.rows[0] as { version: number }).version);
    if (res.rows.length === 0) await client.query('INSERT INTO spendline_schema (version) VALUES (0)');
    const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
    if (current > newest)
      throw new Error(
        `ledger schema version ${current} is newer than this spendline (${newest}); upgrade spendline`,
      );
    let applied = 0;
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (migration.version <= current) continue;
      // Data conversions written for SQLite (`up`) only ever ran on ledgers that predate PostgreSQL
      // support; a PostgreSQL ledger starts empty, so there is nothing for them to convert.
      await client.query(migration.postgres ?? toPgDdl(migration.sql));
      if (migration.postgresAfter !== undefined) await client.query(migration.postgresAfter);
      current = migration.version;
      applied++;
    }
    await client.query('UPDATE spendline_schema SET version = $1', [current]);
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * The advisory lock key of a sidecar identity: 64 bits of SHA-256 of its id, as PostgreSQL's two-int4
 * form (`hashtext`, 32 bits, let two distinct ids collide about once in 2^32 pairs and refuse each
 * other).
 */
export function identityLockKeys(sidecarId: string): [number, number] {
  const d = createHash('sha256').update(`spendline sidecar ${sidecarId}`).digest();
  return [d.readInt32BE(0), d.readInt32BE(4)];
}

/**
 * Holds a session advisory lock named after the sidecar id on a connection of its own: a second
 * sidecar with the same identity (and so the same offsets and counters) is refused. When that
 * connection is lost (PostgreSQL restarted), the lock is taken again before the next commit.
 */
function identityHolder(url: string, sidecarId: string) {
  let client: pg.Client | null = null;
  return {
    async ensure(): Promise<void> {
      if (client !== null) return;
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      c.on('error', () => {
        if (client === c) client = null;
      });
      c.on('end', () => {
        if (client === c) client = null;
      });
      await c.connect();
      let ok = false;
      try {
        const [k1, k2] = identityLockKeys(sidecarId);
        const res = await c.query('SELECT pg_try_advisory_lock($1::integer, $2::integer) AS ok', [k1, k2]);
        ok = (res.rows[0] as { ok: boolean }).ok === true;
      } catch (err) {
        await c.end().catch(() => {});
        throw err;
      }
      if (!ok) {
        await c.end().catch(() => {});
        throw new SidecarIdInUseError(
          `sidecar id "${sidecarId}" is in use by another sidecar on this ledger; give each sidecar its own --sidecar-id (or its own state directory)`,
        );
      }
      client = c;
    },
    async release(): Promise<void> {
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
