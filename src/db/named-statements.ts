/**
 * Every statement sent as a named prepared statement, within a bound.
 *
 * postgres.js's `unsafe` sends an unnamed statement unless asked otherwise, and drizzle asks for one on
 * every builder query and `execute` (`prepare: false` unless the query was `.prepare()`d). Unnamed, a
 * statement with parameters costs two round trips (Parse + Describe, wait, Bind + Execute) and
 * PostgreSQL parses and plans it every time; named, it is parsed once per connection and then bound
 * and executed in one write.
 *
 * A named statement lives as long as its connection (30-60 min, `max_lifetime`) in the driver's
 * statement map and in the backend. Texts that vary with their input (an `in ($1, $2, ...)` list per
 * list length, a multi-row insert per row count) would make both grow, so only the first
 * `MAX_NAMED_TEXTS` distinct texts this process sees are named: the hot paths' texts come first and
 * often; later newcomers go unnamed. A text sent with `prepare: true` stays named.
 */
type Unsafe = (query: string, params?: unknown[], options?: Record<string, unknown>) => unknown;
type Scope = ((...args: unknown[]) => unknown) & Record<string | symbol, unknown>;

export const MAX_NAMED_TEXTS = 500;

/** Which texts may be named: remembered on first sight until the bound is reached. */
export class NamedTexts {
  private readonly texts = new Set<string>();

  constructor(private readonly max = MAX_NAMED_TEXTS) {}

  admit(text: string): boolean {
    if (this.texts.has(text)) return true;
    if (this.texts.size >= this.max) return false;
    this.texts.add(text);
    return true;
  }

  get size(): number {
    return this.texts.size;
  }
}

/** The pool with its unnamed statements named (as admitted by `texts`), in and out of transactions. */
export function nameStatements<T>(sql: T, texts = new NamedTexts()): T {
  return wrap(sql as unknown as Scope, texts) as unknown as T;
}

function wrap(scope: Scope, texts: NamedTexts): Scope {
  const unsafe: Unsafe = (query, params, options) => {
    const target = scope.unsafe as Unsafe;
    // postgres.js's `unsafe` sends an unnamed statement unless told otherwise: drizzle's calls say
    // `prepare: false`, the hot paths' raw statements pass no options. An explicit `true` is kept.
    if (options?.prepare !== true && texts.admit(query)) {
      return target.call(scope, query, params, { ...options, prepare: true });
    }
    return target.call(scope, query, params, options);
  };
  const opener = (key: "begin" | "savepoint") => {
    const open = scope[key] as (...args: unknown[]) => Promise<unknown>;
    return (...args: unknown[]) => {
      const fn = args.pop() as (inner: unknown) => unknown;
      return open.call(scope, ...args, (inner: unknown) => fn(wrap(inner as Scope, texts)));
    };
  };
  const begin = opener("begin");
  const savepoint = typeof scope.savepoint === "function" ? opener("savepoint") : undefined;
  return new Proxy(scope, {
    get: (target, key, receiver) => {
      if (key === "unsafe") return unsafe;
      if (key === "begin" && typeof target.begin === "function") return begin;
      if (key === "savepoint" && savepoint) return savepoint;
      return Reflect.get(target, key, receiver);
    },
  });
}
