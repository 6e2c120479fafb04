/**
 * A transaction whose backend is terminated must reject (CONNECTION_CLOSED or the server's 57P01), not
 * take the process down, and the pool must serve the next statement. Without the guard, the driver's
 * ROLLBACK (or the callback's next statement) is written to a socket-less connection from a
 * setImmediate, and vitest reports the TypeError as an unhandled error.
 */
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDatabase, type Database } from "../../src/db/client.js";
import { isConnectionLoss } from "../../src/db/connection-loss.js";
import { stores } from "../../src/db/schema.js";
import { createDatabaseFromTemplate } from "../support/test-app.js";

let database: Database;
let databaseName: string;
const admin = postgres(inject("pgBaseUrl"), { max: 1, onnotice: () => {} });

beforeAll(async () => {
  const url = await createDatabaseFromTemplate();
  databaseName = new URL(url).pathname.slice(1);
  database = createDatabase(url, { poolSize: 4 });
});

afterAll(async () => {
  await database.close();
  await admin.end({ timeout: 5 });
});

const terminate = (pid: number) => admin`select pg_terminate_backend(${pid})`;
const backendPid = async (tx: Pick<Database["db"], "execute">) => {
  const rows = await tx.execute<{ pid: number }>(sql`select pg_backend_pid() as pid`);
  return Number(rows[0]?.pid);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectConnectionLoss(p: Promise<unknown>) {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the transaction rejected").toBeDefined();
  expect(isConnectionLoss(error), String(error)).toBe(true);
}

describe("transactions on a lost connection", () => {
  it("rejects a transaction whose backend dies during a statement", async () => {
    const tx = database.db.transaction(async (t) => {
      const pid = await backendPid(t);
      void sleep(100).then(() => terminate(pid));
      await t.execute(sql`select pg_sleep(5)`);
      await t.execute(sql`select 1`);
    });
    await expectConnectionLoss(tx);
    await sleep(50);
    expect(await database.db.execute(sql`select 1 as one`)).toEqual([{ one: 1 }]);
  });

  it("refuses the next statement of a transaction whose backend died while it was idle", async () => {
    let later: unknown;
    const tx = database.db.transaction(async (t) => {
      const pid = await backendPid(t);
      await terminate(pid);
      await sleep(100);
      try {
        await t.execute(sql`select 1`);
      } catch (e) {
        later = e;
        throw e;
      }
    });
    await expectConnectionLoss(tx);
    await sleep(200);
    expect(later === undefined || isConnectionLoss(later)).toBe(true);
    expect(await database.db.execute(sql`select 2 as two`)).toEqual([{ two: 2 }]);
  });

  it("rejects Promise.all branches of a transaction whose backend dies, and commits nothing", async () => {
    const handle = `guard-${Math.random().toString(36).slice(2, 8)}`;
    const tx = database.db.transaction(async (t) => {
      const pid = await backendPid(t);
      await t.insert(stores).values({ handle, name: "Guard", currency: "USD" });
      void sleep(100).then(() => terminate(pid));
      await Promise.all([t.execute(sql`select pg_sleep(5)`), t.execute(sql`select pg_sleep(5)`)]);
    });
    await expectConnectionLoss(tx);
    await sleep(50);
    const rows = await admin.unsafe(
      `select 1 from pg_database where datname = '${databaseName}'`, // the database is still there
    );
    expect(rows.length).toBe(1);
    const found = await database.db.select().from(stores).where(sql`${stores.handle} = ${handle}`);
    expect(found).toEqual([]);
  });

  it("still rolls back and rethrows an ordinary SQL error, and keeps the pool healthy", async () => {
    const handle = `guard-${Math.random().toString(36).slice(2, 8)}`;
    const tx = database.db.transaction(async (t) => {
      await t.insert(stores).values({ handle, name: "Guard", currency: "USD" });
      await t.execute(sql`select 1 / 0`);
    });
    await expect(tx).rejects.toMatchObject({ cause: { code: "22012" } });
    expect(await database.db.select().from(stores).where(sql`${stores.handle} = ${handle}`)).toEqual([]);
    // A failed statement the callback swallows still fails the transaction (the driver's rule, kept).
    const swallowed = database.db.transaction(async (t) => {
      await t.execute(sql`select 1 / 0`).catch(() => undefined);
      return "done";
    });
    await expect(swallowed).rejects.toBeDefined();
    const ok = await database.db.transaction(async (t) => {
      await t.insert(stores).values({ handle, name: "Guard", currency: "USD" });
      return t.transaction(async (inner) => (await backendPid(inner)) > 0);
    });
    expect(ok).toBe(true);
    expect(await database.db.select().from(stores).where(sql`${stores.handle} = ${handle}`)).toHaveLength(1);
  });
});
