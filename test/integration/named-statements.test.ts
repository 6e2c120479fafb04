/**
 * Drizzle's statements go to PostgreSQL as named prepared statements (parsed once per connection),
 * up to a bound of distinct texts per process.
 */
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "../../src/db/client.js";
import { NamedTexts } from "../../src/db/named-statements.js";
import { rawSql } from "../../src/db/raw-sql.js";
import { stores } from "../../src/db/schema.js";
import { createDatabaseFromTemplate } from "../support/test-app.js";

let database: Database;

beforeAll(async () => {
  // One connection: what one statement prepared, the next one sees.
  database = createDatabase(await createDatabaseFromTemplate(), { poolSize: 1 });
});

afterAll(async () => {
  await database?.close();
});

async function preparedTexts(): Promise<string[]> {
  const rows = await database.sql.unsafe<{ statement: string }[]>(
    "select statement from pg_prepared_statements",
  );
  return rows.map((r) => r.statement);
}

describe("named statements", () => {
  it("names drizzle's builder queries and execute, and raw statements, in and out of a transaction", async () => {
    await database.db.select({ id: stores.id }).from(stores).where(eq(stores.handle, "no-such-store"));
    // A raw hot-path statement passes no options: postgres.js alone would send it unnamed.
    await rawSql(database.db).unsafe("select $1::text as raw_probe", ["x"]);
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`select ${41}::int + 1 as answer`);
    });
    const texts = await preparedTexts();
    expect(texts.some((t) => /from "stores" where "stores"."handle" = \$1/.test(t))).toBe(true);
    expect(texts.some((t) => t.includes("select $1::int + 1 as answer"))).toBe(true);
    expect(texts).toContain("select $1::text as raw_probe");
  });

  it("names only the first texts up to its bound; those stay named", () => {
    const texts = new NamedTexts(2);
    expect(texts.admit("a")).toBe(true);
    expect(texts.admit("b")).toBe(true);
    expect(texts.admit("c")).toBe(false);
    expect(texts.admit("a")).toBe(true);
    expect(texts.size).toBe(2);
  });
});
