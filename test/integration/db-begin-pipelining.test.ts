/**
 * A transaction's first statement travels behind its BEGIN instead of waiting for BEGIN's reply
 * (scripts/patch-postgres-driver.mjs): one round trip less per transaction, and a pool connection
 * held that much shorter. A proxy holds BEGIN's reply back; the first statement must reach it anyway.
 * The rest shows a transaction still means what it meant: all of it or none, on a connection no one
 * else gets, also when it is the connection's very first use or has to wait for a free connection.
 */
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type PgProxy, pgProxy } from "../support/pg-proxy.js";

const MARKER = "first-statement-marker";

let proxy: PgProxy;
/** Set while a BEGIN's reply is held back; what the proxy saw meanwhile. */
let watch: { held: Buffer[]; release: () => void } | null = null;
/** Whether the marker statement reached the proxy while a BEGIN's reply was held back. */
let markerWhileHeld = false;

beforeAll(async () => {
  proxy = await pgProxy(inject("pgBaseUrl"), {
    fromClient(bytes, conn) {
      const text = bytes.toString("latin1");
      if (watch === null && /\bbegin\b/i.test(text) && text.includes(MARKER)) {
        // In the same write as BEGIN itself.
        markerWhileHeld = true;
      } else if (watch === null && /\bbegin\b/i.test(text)) {
        const held: Buffer[] = [];
        const release = () => {
          if (watch?.held !== held) return;
          for (const b of held.splice(0)) conn.toClient(b);
          watch = null;
        };
        watch = { held, release };
        // Without pipelining the marker never comes while BEGIN's reply is held: give up after a while.
        setTimeout(release, 1_000).unref();
      } else if (watch && text.includes(MARKER)) {
        markerWhileHeld = true;
        const release = watch.release;
        conn.toServer(bytes);
        setImmediate(release);
        return;
      }
      conn.toServer(bytes);
    },
    fromServer(bytes, conn) {
      if (watch) watch.held.push(bytes);
      else conn.toClient(bytes);
    },
  });
});
afterAll(async () => {
  await proxy.close();
});

const client = () => postgres(proxy.url, { max: 1, onnotice: () => {}, connect_timeout: 5 });

describe("a transaction's first statement", () => {
  it("goes out before BEGIN has answered", async () => {
    const sql = client();
    try {
      await sql`select 1`;
      markerWhileHeld = false;
      // The marker is in the statement's text (a parameter would travel in a later message).
      const rows = await sql.begin((tx) => tx.unsafe<{ m: string }[]>(`select '${MARKER}'::text as m`));
      expect(rows[0]?.m).toBe(MARKER);
      expect(markerWhileHeld, "the statement reached the proxy while BEGIN's reply was held").toBe(true);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});

describe("a pipelined transaction", () => {
  const base = () => postgres(inject("pgBaseUrl"), { max: 1, onnotice: () => {} });

  it("commits all of it or none of it", async () => {
    const sql = base();
    try {
      await sql`create temp table pipelined (n int)`;
      await sql.begin(async (tx) => {
        await tx`insert into pipelined values (1)`;
        await tx`insert into pipelined values (2)`;
      });
      await expect(
        sql.begin(async (tx) => {
          await tx`insert into pipelined values (3)`;
          throw new Error("changed my mind");
        }),
      ).rejects.toThrow("changed my mind");
      // A failing first statement aborts the transaction it was pipelined into, not some other one.
      await expect(
        sql.begin(async (tx) => {
          await tx`insert into pipelined values (1 / 0)`;
        }),
      ).rejects.toMatchObject({ code: "22012" });
      const rows = await sql<{ n: number }[]>`select n from pipelined order by n`;
      expect(rows.map((r) => r.n)).toEqual([1, 2]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it("works as a connection's very first use, and when it waits for the only connection", async () => {
    const sql = base();
    try {
      // Ten transactions on one connection: each waits for the last, and none sees another's work.
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          sql.begin(async (tx) => {
            const [own] = await tx<{ id: number }[]>`select txid_current()::int as id`;
            const [again] = await tx<
              { id: number; i: number }[]
            >`select txid_current()::int as id, ${i}::int as i`;
            return { first: own?.id, second: again?.id, i: again?.i };
          }),
        ),
      );
      for (const [i, r] of results.entries()) {
        expect(r.i).toBe(i);
        expect(r.second, "both statements ran in one transaction").toBe(r.first);
      }
      expect(new Set(results.map((r) => r.first)).size, "each in its own transaction").toBe(10);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
