/**
 * postgres.js asks every new connection for PostgreSQL's array types before running the statement
 * that opened it. If the connection is lost around that question (a failover, a terminated backend),
 * the statement either waits for the reconnect or fails with the termination, later statements
 * succeed, and nothing rejects unawaited: a stray rejection reaches the process's last-resort handler
 * (and failed a CI run of the connection-reset storm, where a backend was terminated the moment its
 * session became ready). A proxy in front of PostgreSQL stages both timings exactly.
 */
import postgres from "postgres";
import { afterEach, describe, expect, inject, it } from "vitest";
import { pgProxy } from "../support/pg-proxy.js";

const TYPE_QUERY = Buffer.from("pg_catalog.pg_type");

interface Proxy {
  url: string;
  cuts: () => number;
  close: () => Promise<void>;
}

/**
 * "terminated" is what pg_terminate_backend does to a session the moment it is ready: PostgreSQL's
 * FATAL admin-shutdown error follows the ReadyForQuery in the same read, then the socket closes.
 */
const ADMIN_SHUTDOWN = errorResponse([
  ["S", "FATAL"],
  ["V", "FATAL"],
  ["C", "57P01"],
  ["M", "terminating connection due to administrator command"],
]);

function errorResponse(fields: [string, string][]): Buffer {
  const body = Buffer.concat([...fields.map(([k, v]) => Buffer.from(`${k}${v}\0`)), Buffer.from([0])]);
  const head = Buffer.alloc(5);
  head.write("E", 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** The offset just past the first ReadyForQuery message in a server-to-client chunk, if any. */
function endOfReady(bytes: Buffer): number | null {
  for (let at = 0; at + 5 <= bytes.length; ) {
    const end = at + 1 + bytes.readInt32BE(at + 1);
    if (bytes[at] === 0x5a) return end;
    at = end;
  }
  return null;
}

type Fault = "cut-during-type-query" | "terminated-when-ready";

/**
 * Forwards to PostgreSQL; stages `fault` on the first `faults` connections. Assumes the server's
 * startup replies arrive in one read, as they do from a local PostgreSQL.
 */
async function faultyProxy(target: URL, fault: Fault, faults: number): Promise<Proxy> {
  let cuts = 0;
  const staged = new Set<number>();
  const proxy = await pgProxy(target.toString(), {
    fromClient(bytes, conn) {
      const cutHere = staged.has(conn.index) || (fault === "cut-during-type-query" && cuts < faults);
      if (bytes.includes(TYPE_QUERY) && cutHere) {
        if (!staged.has(conn.index)) cuts++;
        conn.cut();
        return;
      }
      conn.toServer(bytes);
    },
    fromServer(bytes, conn) {
      const stage = fault === "terminated-when-ready" && cuts < faults && !staged.has(conn.index);
      const ready = stage ? endOfReady(bytes) : null;
      if (ready === null) {
        conn.toClient(bytes);
        return;
      }
      cuts++;
      staged.add(conn.index);
      conn.toClient(Buffer.concat([bytes.subarray(0, ready), ADMIN_SHUTDOWN]));
    },
  });
  return { url: proxy.url, cuts: () => cuts, close: proxy.close };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A one-connection client through a proxy staging `fault`, and the rejections nothing handled. */
async function throughProxy(fault: Fault, faults: number) {
  const proxy = await faultyProxy(new URL(inject("pgBaseUrl")), fault, faults);
  cleanups.push(proxy.close);
  const stray: unknown[] = [];
  const onStray = (reason: unknown) => stray.push(reason);
  process.on("unhandledRejection", onStray);
  cleanups.push(async () => {
    process.off("unhandledRejection", onStray);
  });
  const sql = postgres(proxy.url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  cleanups.push(() => sql.end({ timeout: 5 }));
  return { proxy, sql, stray };
}

describe("a connection lost while the driver fetches array types", () => {
  it.each([
    ["a pooled statement", false],
    ["a transaction", true],
  ])("%s waits for the reconnect, succeeds, and leaves no unhandled rejection", async (_, inTransaction) => {
    const { proxy, sql, stray } = await throughProxy("cut-during-type-query", 2);

    const rows = inTransaction
      ? await sql.begin((tx) => tx<{ n: number }[]>`select ${41}::int + 1 as n`)
      : await sql<{ n: number }[]>`select ${41}::int + 1 as n`;
    expect(rows[0]?.n).toBe(42);
    // Arrays still travel both ways: the types were fetched on the connection that survived.
    const [arrays] = await sql<{ ids: number[] }[]>`select ${[1, 2, 3]}::int[] as ids`;
    expect(arrays?.ids).toEqual([1, 2, 3]);
    expect(proxy.cuts()).toBe(2);
    // Give a stray rejection a turn to surface.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stray).toEqual([]);
  });

  it.each([
    ["a pooled statement", false],
    ["a transaction", true],
  ])("%s on a session terminated as it became ready fails with the termination, and nothing else does", async (_, inTransaction) => {
    const { proxy, sql, stray } = await throughProxy("terminated-when-ready", 1);

    const first = inTransaction ? sql.begin((tx) => tx`select 1 as n`) : sql`select 1 as n`;
    await expect(first).rejects.toMatchObject({ code: "57P01" });
    const [arrays] = await sql<{ ids: number[] }[]>`select ${[1, 2, 3]}::int[] as ids`;
    expect(arrays?.ids).toEqual([1, 2, 3]);
    expect(proxy.cuts()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stray).toEqual([]);
  });
});
