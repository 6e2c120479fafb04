/**
 * Transactions that stop cleanly when their connection is lost.
 *
 * postgres.js 3.4.9 (the latest release) runs `sql.begin(fn)` as a race between `fn` and the close of
 * the transaction's connection. When the backend goes away mid-transaction (failover, restart,
 * `pg_terminate_backend`), begin() rejects at once, but `fn` keeps running, and when it settles the
 * driver sends ROLLBACK (or COMMIT) through that same connection object. Until the pool reconnects it,
 * that object has no socket: a write under 1 KiB is deferred to `setImmediate`, where
 * `socket.write` throws `TypeError: Cannot read properties of null (reading 'write')` outside any
 * promise, and the process dies (porsager/postgres#1154, #1066, #1208; the guards proposed in #1168,
 * #1176, #1209 are not released). After a reconnect the same statement would instead run on the
 * replacement backend, perhaps inside another request's transaction (#1155, #1215). Swallowing the
 * TypeError is no cure: the connection keeps the unsent bytes and later requests hang.
 *
 * So, once a transaction's connection is lost, nothing more is sent through it: further statements of
 * `fn` are refused with the close error, and `fn`'s promise is never let settle, so the driver never
 * sends its ROLLBACK/COMMIT (PostgreSQL rolls back a transaction whose backend ended). The caller gets
 * begin()'s rejection as before. The parked callbacks hold no connection and nothing refers to them,
 * so they are garbage. Remove this module when a fixed driver is released.
 */
import type postgres from "postgres";

/** Counts connection closes of the pool (fed by postgres.js's `onclose` option). */
export interface ConnectionCloses {
  count: number;
}

interface TransactionState {
  /** The close error, once the transaction's connection is known to be gone. */
  lost: unknown;
  closesAtStart: number;
}

type Body = (sql: unknown) => unknown;
type Beginner = (...args: unknown[]) => Promise<unknown>;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const never = () => new Promise<never>(() => {});

/** The pool with a `begin` that never writes to a lost transaction connection; all else unchanged. */
export function guardTransactions<T extends Pick<postgres.Sql, "begin">>(
  sql: T,
  closes: ConnectionCloses,
): T {
  const begin = (...args: unknown[]): Promise<unknown> => {
    const fn = args.pop() as Body;
    const state: TransactionState = { lost: undefined, closesAtStart: closes.count };
    let settled = false;
    const run = (tx: unknown) =>
      settleUnlessLost(state, closes, () => fn(guardScope(tx, state, closes))).then((value) => {
        settled = true;
        return value;
      });
    const started = (sql.begin as unknown as Beginner)(...args, run);
    // begin() rejects at once when the connection closes: from then on the transaction is lost.
    started.catch((error: unknown) => {
      if (!settled) state.lost = error ?? new Error("PostgreSQL connection lost");
    });
    return started;
  };
  return new Proxy(sql, {
    get: (target, key, receiver) => (key === "begin" ? begin : Reflect.get(target, key, receiver)),
  });
}

/**
 * Runs a transaction (or savepoint) body; hands its outcome to the driver unless the connection was
 * lost meanwhile, in which case it never settles. A close anywhere in the pool since the transaction
 * began costs one event-loop turn, after which begin()'s rejection has told whether it was ours.
 */
async function settleUnlessLost<R>(
  state: TransactionState,
  closes: ConnectionCloses,
  body: () => R | Promise<R>,
): Promise<R> {
  let outcome: { ok: true; value: R } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await body() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (closes.count !== state.closesAtStart && state.lost === undefined) await nextTurn();
  if (state.lost !== undefined) return never();
  if (outcome.ok) return outcome.value;
  throw outcome.error;
}

/** The transaction's `sql` as drizzle uses it (`unsafe`, `savepoint`, tagged calls), guarded. */
function guardScope(scope: unknown, state: TransactionState, closes: ConnectionCloses): unknown {
  const target = scope as ((...args: unknown[]) => unknown) & {
    unsafe: (...args: unknown[]) => unknown;
    savepoint: (...args: unknown[]) => Promise<unknown>;
  };
  const savepoint = (...args: unknown[]): Promise<unknown> => {
    if (state.lost !== undefined) return Promise.reject(state.lost);
    const fn = args.pop() as Body;
    const run = (sp: unknown) => settleUnlessLost(state, closes, () => fn(guardScope(sp, state, closes)));
    return target.savepoint(...args, run);
  };
  const unsafe = (...args: unknown[]) => guardedQuery(state, closes, () => target.unsafe(...args));
  return new Proxy(target, {
    apply: (_t, _this, args: unknown[]) => guardedQuery(state, closes, () => target(...args)),
    get: (t, key, receiver) =>
      key === "unsafe" ? unsafe : key === "savepoint" ? savepoint : Reflect.get(t, key, receiver),
  });
}

interface DriverQuery extends PromiseLike<unknown> {
  values(): DriverQuery;
  raw(): DriverQuery;
}

/**
 * A lazy stand-in for a driver query (drizzle calls `.values()` on it, then awaits it): it is handed to
 * the driver only when awaited, and refused if the connection is lost by then.
 */
function guardedQuery(state: TransactionState, closes: ConnectionCloses, make: () => unknown): DriverQuery {
  let format: "values" | "raw" | undefined;
  let running: Promise<unknown> | undefined;
  const run = () => {
    running ??= (async () => {
      if (closes.count !== state.closesAtStart && state.lost === undefined) await nextTurn();
      if (state.lost !== undefined) throw state.lost;
      const query = make() as DriverQuery;
      return format === "values" ? query.values() : format === "raw" ? query.raw() : query;
    })();
    return running;
  };
  const stand: DriverQuery & { catch: Promise<unknown>["catch"]; finally: Promise<unknown>["finally"] } = {
    values() {
      format = "values";
      return stand;
    },
    raw() {
      format = "raw";
      return stand;
    },
    // biome-ignore lint/suspicious/noThenProperty: a stand-in for the driver's lazy, thenable query
    then: (onFulfilled, onRejected) => run().then(onFulfilled, onRejected),
    catch: (onRejected) => run().catch(onRejected),
    finally: (onFinally) => run().finally(onFinally),
  };
  return stand;
}
