/**
 * Logs never carry SQL parameter values. Real SQL errors from the real driver (with and without its
 * `debug` option, which makes `parameters` enumerable), logged through the real logger in every way
 * the code logs errors: the value is nowhere in the output, the statement text is.
 */
import { Writable } from "node:stream";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import { GraphQLError } from "graphql";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { stores } from "../../src/db/schema.js";
import { createLogger, type LogFormat } from "../../src/logger.js";
import { createDatabaseFromTemplate } from "../support/test-app.js";

const SECRET = `hunter2-${Math.random().toString(36).slice(2, 10)}@example.com`;

let withDebug: Database;
let plainSql: postgres.Sql;
let withoutDebug: ReturnType<typeof drizzle<typeof schema>>;

beforeAll(async () => {
  const url = await createDatabaseFromTemplate();
  withDebug = createDatabase(url, { poolSize: 2 });
  plainSql = postgres(url, { max: 2, onnotice: () => {} });
  withoutDebug = drizzle(plainSql, { schema });
});

afterAll(async () => {
  await withDebug.close();
  await plainSql.end({ timeout: 5 });
});

function capture(format: LogFormat) {
  let out = "";
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  return { logger: createLogger("info", { format, destination }), output: () => out };
}

async function failure(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(e instanceof Error)) throw new Error("expected the statement to fail");
  return e;
}

/** Every way an error reaches our logs: `{ err }`, the error itself, another key, a GraphQL wrapper. */
function logEveryWay(logger: ReturnType<typeof createLogger>, err: Error) {
  logger.error({ err, requestId: "r1" }, "unexpected error");
  logger.error(err);
  logger.warn({ error: err }, "other key");
  const wrapped = new GraphQLError(err.message, { originalError: err });
  logger.error({ err: wrapped.originalError ?? wrapped }, "unexpected error");
  logger.error({ err: wrapped }, "the GraphQL error itself");
  logger.error({ err: new Error("outer", { cause: err }) }, "wrapped in a cause");
}

describe.each([
  ["with the driver's debug option", "debug", () => withDebug.db],
  ["without it", "plain", () => withoutDebug],
] as const)("SQL errors %s", (_label, pool, db) => {
  it.each(["json", "pretty"] as const)("never log the bound values (%s)", async (format) => {
    // The server echoes the value in its message: invalid input syntax for type integer: "<value>".
    const cast = await failure(db().execute(sql`select ${SECRET}::int as n`));
    // A unique violation echoes it in the detail: Key (handle)=(<value>) already exists.
    await db()
      .insert(stores)
      .values({ handle: `${SECRET}-${pool}-${format}`, name: "Secret", currency: "USD" });
    const duplicate = await failure(
      db()
        .insert(stores)
        .values({ handle: `${SECRET}-${pool}-${format}`, name: "Secret", currency: "USD" }),
    );
    // Inside a transaction (the guard's path), with the error further down the cause chain.
    const inTx = await failure(
      db().transaction(async (tx) => {
        await tx.execute(sql`select ${SECRET}::int as n`);
      }),
    );
    // Sanity: the errors do carry the secret, so the test can fail.
    expect(JSON.stringify({ m: cast.message, c: String(cast.cause) })).toContain(SECRET);
    expect(duplicate.message).toContain(SECRET);

    const { logger, output } = capture(format);
    for (const err of [cast, duplicate, inTx]) logEveryWay(logger, err);
    const text = output();
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("hunter2");
    // The statements are still there, with their placeholders.
    expect(text).toContain("select $1::int as n");
    expect(text).toMatch(/insert into \\?"stores\\?"/); // JSON escapes the quotes
    expect(text).toContain("invalid input syntax for type integer");
    expect(text).toContain("stores_handle_unique");
  });
});
