/**
 * The PostgreSQL client: postgres.js under drizzle. One pool per process and server.
 * Every statement is counted into the current request's statement counter (if any), so tests can
 * assert a SQL budget per operation and N+1 regressions fail CI. A read replica gets a second pool
 * (see read-replica.ts) whose statements are counted apart as well.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema.js";
import { type ConnectionCloses, guardTransactions } from "./transaction-guard.js";

export type Schema = typeof schema;
export type Db = PostgresJsDatabase<Schema>;
/** A drizzle transaction handle; services pass it down so one use case is one transaction. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Either the pool or an open transaction: read helpers accept both. */
export type Executor = Db | Tx;

export interface StatementCounter {
  /** Every statement, on any pool. */
  count: number;
  /** Those sent to the read replica's pool. */
  replica?: number;
}
const statementCounter = new AsyncLocalStorage<StatementCounter>();

/** Runs `fn` with a fresh statement counter; every SQL statement it causes is counted. */
export function countStatements<T>(fn: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const counter: StatementCounter = { count: 0 };
  return statementCounter.run(counter, async () => ({ result: await fn(), statements: counter.count }));
}

/** Binds a counter to the current async context (used per HTTP request). */
export function withStatementCounter<T>(counter: StatementCounter, fn: () => T): T {
  return statementCounter.run(counter, fn);
}

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
 */
export const POOL_SETTINGS = {
  idle_timeout: 60,
  connect_timeout: 5,
  keep_alive: 60,
  maxLifetimeSeconds: () => 60 * (30 + Math.floor(Math.random() * 30)),
} as const;

export function createDatabase(url: string, opts: DatabaseOptions = {}): Database {
  const closes: ConnectionCloses = { count: 0 };
  const pool = postgres(url, {
    max: opts.poolSize ?? 10,
    idle_timeout: POOL_SETTINGS.idle_timeout,
    connect_timeout: opts.connectTimeoutSeconds ?? POOL_SETTINGS.connect_timeout,
    keep_alive: POOL_SETTINGS.keep_alive,
    max_lifetime: POOL_SETTINGS.maxLifetimeSeconds(),
    onclose: () => {
      closes.count++;
    },
    onnotice: () => {},
    // bigint columns (bigserial ids, counts) come back as JS numbers; ours stay far below 2^53.
    types: { bigint: postgres.BigInt },
    transform: { undefined: null },
    debug: () => {
      const counter = statementCounter.getStore();
      if (!counter) return;
      counter.count++;
      if (opts.replica) counter.replica = (counter.replica ?? 0) + 1;
    },
    connection: { application_name: opts.replica ? "cartograph-replica" : "cartograph", TimeZone: "UTC" },
  });
  // Every transaction goes through the guard: see transaction-guard.ts for the driver defect it avoids.
  const sql = guardTransactions(pool, closes);
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
