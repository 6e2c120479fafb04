/**
 * The PostgreSQL client: postgres.js under drizzle. One pool per process.
 * Every statement is counted into the current request's statement counter (if any), so tests can
 * assert a SQL budget per operation and N+1 regressions fail CI.
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
  count: number;
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

export function createDatabase(url: string, opts: { poolSize?: number } = {}): Database {
  const sql = postgres(url, {
    max: opts.poolSize ?? 10,
    onnotice: () => {},
    // bigint columns (bigserial ids, counts) come back as JS numbers; ours stay far below 2^53.
    types: { bigint: postgres.BigInt },
    transform: { undefined: null },
    debug: () => {
      const counter = statementCounter.getStore();
      if (counter) counter.count++;
    },
    connection: { application_name: "cartograph", TimeZone: "UTC" },
  });
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
