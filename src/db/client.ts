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
  /** Seconds to wait for a new connection (postgres.js default: 30). */
  connectTimeoutSeconds?: number;
}

export function createDatabase(url: string, opts: DatabaseOptions = {}): Database {
  const sql = postgres(url, {
    max: opts.poolSize ?? 10,
    ...(opts.connectTimeoutSeconds ? { connect_timeout: opts.connectTimeoutSeconds } : {}),
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
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
