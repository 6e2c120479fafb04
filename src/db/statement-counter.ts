/**
 * Counting SQL statements per request, for tests only (NODE_ENV=test): statement budgets are asserted
 * through the real HTTP path, so an N+1 or a re-read on a hot path fails CI.
 *
 * Statements are counted where they are issued, not where the driver writes them: postgres.js's
 * `debug` hook runs when a queued statement is finally written, often from a socket callback outside
 * the request's async context (so it undercounted pipelined statements), and having it set at all makes
 * the driver capture an Error stack for every query. In production neither this wrapper nor the per
 * request AsyncLocalStorage exists.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type postgres from "postgres";

export interface StatementCounter {
  /** Every statement, on any pool, BEGIN and COMMIT included. */
  count: number;
  /** Those sent to the read replica's pool. */
  replica?: number;
  /** When present, each statement's text is appended (tests print it when a budget is broken). */
  log?: string[];
}

const current = new AsyncLocalStorage<StatementCounter>();

/** Runs `fn` with a fresh statement counter; every SQL statement it causes is counted. */
export async function countStatements<T>(
  fn: () => Promise<T>,
  opts: { log?: boolean } = {},
): Promise<{ result: T; statements: number; log: string[] }> {
  const counter: StatementCounter = { count: 0, ...(opts.log ? { log: [] } : {}) };
  const result = await current.run(counter, fn);
  return { result, statements: counter.count, log: counter.log ?? [] };
}

/** Binds a counter to the current async context (used per HTTP request). */
export function withStatementCounter<T>(counter: StatementCounter, fn: () => T): T {
  return current.run(counter, fn);
}

function record(text: string, replica: boolean): void {
  const counter = current.getStore();
  if (!counter) return;
  counter.count++;
  if (replica) counter.replica = (counter.replica ?? 0) + 1;
  counter.log?.push(text.replace(/\s+/g, " ").trim().slice(0, 160));
}

type Callable = ((...args: unknown[]) => unknown) & Record<string | symbol, unknown>;

const isTemplate = (first: unknown): first is TemplateStringsArray =>
  Array.isArray(first) && "raw" in (first as object);

/**
 * The pool (or a transaction scope) with every statement counted: tagged calls, `unsafe`, and a
 * transaction's or savepoint's own BEGIN/COMMIT (two statements, the same as the driver sends).
 * `sql(value)` helper calls build fragments and are not statements.
 */
export function countingSql<T extends postgres.Sql>(sql: T, replica = false): T {
  return wrap(sql as unknown as Callable, replica, false) as unknown as T;
}

function wrap(scope: Callable, replica: boolean, inTransaction: boolean): Callable {
  const openScope = (key: "begin" | "savepoint") => {
    const opener = scope[key] as (...args: unknown[]) => Promise<unknown>;
    return (...args: unknown[]) => {
      const fn = args.pop() as (inner: unknown) => unknown;
      record(key === "begin" ? "begin" : "savepoint", replica);
      return opener
        .call(scope, ...args, (inner: unknown) => fn(wrap(inner as Callable, replica, true)))
        .finally(() => record(key === "begin" ? "commit" : "release savepoint", replica));
    };
  };
  const begin = inTransaction ? undefined : openScope("begin");
  const savepoint = inTransaction ? openScope("savepoint") : undefined;
  const unsafe = (...args: unknown[]) => {
    record(String(args[0]), replica);
    return (scope.unsafe as (...a: unknown[]) => unknown).apply(scope, args);
  };
  return new Proxy(scope, {
    apply: (target, self, args: unknown[]) => {
      if (isTemplate(args[0])) record(args[0].join("$"), replica);
      return Reflect.apply(target, self, args);
    },
    get: (target, key, receiver) => {
      if (key === "unsafe") return unsafe;
      if (key === "begin" && begin) return begin;
      if (key === "savepoint" && savepoint) return savepoint;
      return Reflect.get(target, key, receiver);
    },
  });
}
