/**
 * The PostgreSQL client: postgres.js under drizzle. One pool per process and server; a read replica
 * gets a second pool (see read-replica.ts). Under test, every statement is counted into the current
 * request's statement counter (statement-counter.ts), so tests can assert a SQL budget per operation.
 */
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { nameStatements } from "./named-statements.js";
import * as schema from "./schema.js";
import { useSqlCompiler } from "./sql-compiler.js";
import { countingSql } from "./statement-counter.js";
import { type ConnectionCloses, guardTransactions } from "./transaction-guard.js";

export type Schema = typeof schema;
export type Db = PostgresJsDatabase<Schema>;
/** A drizzle transaction handle; services pass it down so one use case is one transaction. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Either the pool or an open transaction: read helpers accept both. */
export type Executor = Db | Tx;

export interface Database {
  db: Db;
  sql: postgres.Sql;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  poolSize?: number;
  /** This pool reads from a replica: its statements are also counted as replica statements. */
  replica?: boolean;
  /** Seconds to wait for a new connection (default POOL_SETTINGS.connect_timeout). */
  connectTimeoutSeconds?: number;
  /** Count statements per request (tests only: it wraps every call). */
  countStatements?: boolean;
}

/**
 * Pool settings, chosen for a server that must ride out failovers and restarts:
 * - `idle_timeout` 60 s: an idle connection is the one most likely to have been cut silently by a NAT,
 *   a firewall or a pooler (PgBouncer, cloud NATs drop idle flows after 5-10 min); closing our own first
 *   means the next request opens a fresh one instead of finding a dead socket. Quiet instances also
 *   give their server slots back.
 * - `max_lifetime` 30-60 min, drawn once per pool: connections are rotated, so a replaced primary
 *   behind a proxy or a DNS name is picked up and per-backend memory stays bounded; the spread keeps
 *   many instances from reconnecting in step after a failover.
 * - `connect_timeout` 5 s (driver default 30 s): during an outage a request fails in seconds rather than
 *   holding its client for half a minute; a healthy connect, TLS included, takes milliseconds.
 * - `keep_alive` 60 s (the default, kept on purpose): TCP keepalive for long statements.
 * - `prepare` on, for every statement: each is parsed once per connection and then only bound and
 *   executed. Unnamed, postgres.js sends a statement with parameters as two round trips (Parse +
 *   Describe, wait, then Bind + Execute) and PostgreSQL parses and plans it every time. The driver's
 *   `unsafe` (all of drizzle's statements, and the hot paths' raw ones) asks for unnamed statements,
 *   so named-statements.ts names them, up to a bound of distinct texts. Named statements made a
 *   defect of postgres.js 3.4.9 frequent (a terminated backend left its connection wedged for good),
 *   which scripts/patch-postgres-driver.mjs repairs at install; db-connection-reset.test.ts storms the
 *   pool with terminations to prove it.
 * - Plans: PostgreSQL's default (`plan_cache_mode` auto) may settle a named statement on one generic
 *   plan after five executions, which saves planning each time (the fraud check's seven counts took
 *   milliseconds to plan). A statement with optional filters ("$3 is null or ...") gets a generic plan
 *   that serves every case badly, so none of the named statements has one: the products page has a
 *   text per combination of filters (catalog-scale.test.ts checks their generic plans).
 */
export const POOL_SETTINGS = {
  idle_timeout: 60,
  connect_timeout: 5,
  keep_alive: 60,
  prepare: true,
  maxLifetimeSeconds: () => 60 * (30 + Math.floor(Math.random() * 30)),
} as const;

export function createDatabase(url: string, opts: DatabaseOptions = {}): Database {
  const closes: ConnectionCloses = { count: 0 };
  const pool = postgres(url, {
    max: opts.poolSize ?? 10,
    idle_timeout: POOL_SETTINGS.idle_timeout,
    connect_timeout: opts.connectTimeoutSeconds ?? POOL_SETTINGS.connect_timeout,
    keep_alive: POOL_SETTINGS.keep_alive,
    prepare: POOL_SETTINGS.prepare,
    max_lifetime: POOL_SETTINGS.maxLifetimeSeconds(),
    onclose: () => {
      closes.count++;
    },
    onnotice: () => {},
    // bigint columns (bigserial ids, counts) come back as JS numbers; ours stay far below 2^53.
    types: { bigint: postgres.BigInt },
    transform: { undefined: null },
    connection: { application_name: opts.replica ? "cartograph-replica" : "cartograph", TimeZone: "UTC" },
  });
  // Every transaction goes through the guard: see transaction-guard.ts for the driver defect it avoids.
  const guarded = nameStatements(guardTransactions(pool, closes));
  const sql = opts.countStatements ? countingSql(guarded, opts.replica) : guarded;
  const db = drizzle(sql, { schema });
  // Statement text built by sql-compiler.ts; checked against drizzle's own on every statement in tests.
  useSqlCompiler(db, { verify: Boolean(opts.countStatements || process.env.VITEST) });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
