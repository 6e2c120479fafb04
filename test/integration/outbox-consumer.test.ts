/**
 * The outbox consumer against a real PostgreSQL: each committed event is handled once, in id order,
 * in the transaction that moves the durable cursor; a handler that fails (as a crash between handler
 * and commit would) rolls both back and the event comes again; an event whose transaction commits
 * after later ones is not skipped; several instances share one cursor through a lease, hand over when
 * one stops, wait out a dead holder's lease, and never handle an event twice; and the relay's purge
 * keeps what a consumer has not passed.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, Tx } from "../../src/db/client.js";
import { outbox, outboxConsumers } from "../../src/db/schema.js";
import { createMemoryInfra } from "../../src/infra/memory.js";
import { createLogger } from "../../src/logger.js";
import { OutboxConsumer, type OutboxConsumerOptions } from "../../src/services/events/outbox-consumer.js";
import { type OutboxEvent, type OutboxMessage, writeOutbox } from "../../src/services/outbox.js";
import { OutboxRelay } from "../../src/services/outbox-relay.js";
import { useTestApp } from "../support/test-app.js";

// The runtime's own notifications consumer is off: these tests own every cursor they look at.
const t = useTestApp({ env: { NOTIFICATIONS_ENABLED: "false" } });
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
const db = (): Db => t.app.runtime.database.db;
const DAY_MS = 24 * 60 * 60 * 1000;

let listener: postgres.Sql;
beforeAll(async () => {
  // What handlers write: no unique key, so a second handling of an event would show as a second row.
  await db().execute(sql`create table consumer_probe (consumer text not null, event_id bigint not null,
    instance text not null, at timestamptz not null default clock_timestamp())`);
  listener = postgres(t.app.databaseUrl, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await listener?.end({ timeout: 5 });
});

const tag = () => randomBytes(4).toString("hex");
const uniqueTopic = () => `t${tag()}.happened`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function event(topic: string, n: number): OutboxEvent {
  return { storeId: randomUUID(), topic, key: randomUUID(), payload: { n } };
}

async function commit(...events: OutboxEvent[]): Promise<void> {
  await db().transaction(async (tx) => {
    for (const e of events) await writeOutbox(tx, e);
  });
}

async function idsOf(topic: string): Promise<number[]> {
  const rows = await db().select({ id: outbox.id }).from(outbox).where(eq(outbox.topic, topic));
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/** Event ids the consumer's handlers committed, in commit order (duplicates kept). */
async function handled(consumer: string): Promise<number[]> {
  const rows = await db().execute<{ event_id: string }>(
    sql`select event_id::text from consumer_probe where consumer = ${consumer} order by at, event_id`,
  );
  return rows.map((r) => Number(r.event_id));
}

async function handledBy(consumer: string): Promise<Set<string>> {
  const rows = await db().execute<{ instance: string }>(
    sql`select distinct instance from consumer_probe where consumer = ${consumer}`,
  );
  return new Set(rows.map((r) => r.instance));
}

/** Records the event in the probe table, in the consumer's transaction. */
function probe(name: string, instance: () => string, extra?: (tx: Tx, m: OutboxMessage) => Promise<void>) {
  return async (tx: Tx, m: OutboxMessage) => {
    await tx.execute(
      sql`insert into consumer_probe (consumer, event_id, instance) values (${name}, ${m.id}, ${instance()})`,
    );
    await extra?.(tx, m);
  };
}

function consumer(
  name: string,
  topics: string[],
  opts: Partial<OutboxConsumerOptions> & { extra?: (tx: Tx, m: OutboxMessage) => Promise<void> } = {},
): OutboxConsumer {
  let self: OutboxConsumer | undefined;
  const c: OutboxConsumer = new OutboxConsumer({
    name,
    db: db(),
    logger,
    topics,
    pollMs: 50,
    handle: probe(name, () => self?.instanceId ?? "?", opts.extra),
    ...opts,
  });
  self = c;
  return c;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("OutboxConsumer", () => {
  it("handles each committed event once, in id order, and moves its cursor past them", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const c = consumer(name, [topic]);
    expect(await c.drain()).toBe(0); // registers the cursor at the end of the outbox
    await commit(event(topic, 1), event(topic, 2));
    await commit(event("other.topic", 0), event(topic, 3));
    await commit(event(topic, 4));
    expect(await c.drain()).toBe(4);
    const ids = await idsOf(topic);
    expect(await handled(name)).toEqual(ids);
    expect(await c.drain()).toBe(0);
    expect(await c.position()).toBeGreaterThanOrEqual(ids.at(-1) ?? Number.POSITIVE_INFINITY);
  });

  it("writes nothing while there is nothing to handle (a quiet database stays quiet)", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const c = consumer(name, [topic]);
    await c.drain();
    await commit(event(topic, 1));
    expect(await c.drain()).toBe(1);
    const version = async () =>
      (
        await db().execute<{ v: string }>(
          sql`select xmin::text as v from outbox_consumers where name = ${name}`,
        )
      )[0]?.v;
    const before = await version();
    for (let i = 0; i < 5; i++) expect(await c.drain()).toBe(0);
    expect(await version()).toBe(before);
  });

  it("starts after what was handed out so far, or at the beginning when asked", async () => {
    const topic = uniqueTopic();
    await commit(event(topic, 1));
    const late = consumer(`c-${tag()}`, [topic]);
    expect(await late.drain()).toBe(0);
    const fromStart = consumer(`c-${tag()}`, [topic], { startAt: "beginning" });
    expect(await fromStart.drain()).toBe(1);
  });

  it("does not skip an event whose transaction commits after a later one", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const c = consumer(name, [topic]);
    await c.drain();
    // Transaction A takes the lower id and stays open; B takes a higher id and commits first.
    let commitA = () => {};
    const aMayCommit = new Promise<void>((r) => {
      commitA = r;
    });
    let aWrote = () => {};
    const aHasWritten = new Promise<void>((r) => {
      aWrote = r;
    });
    const a = db().transaction(async (tx) => {
      await writeOutbox(tx, event(topic, 1));
      aWrote();
      await aMayCommit;
    });
    await aHasWritten;
    await commit(event(topic, 2));
    // Only B is visible: a cursor that followed the highest committed id would now pass A's id.
    const [bId] = await idsOf(topic);
    expect(await idsOf(topic)).toHaveLength(1);

    expect(await c.drain(300)).toBe(0); // A is open: nothing past it is final yet
    expect(await handled(name)).toEqual([]);
    commitA();
    await a;
    const ids = await idsOf(topic);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(bId); // B's id is the higher one: the commits were out of id order
    expect(await c.drain()).toBe(2);
    expect(await handled(name)).toEqual(ids);
  });

  it("does not pass the id of a transaction still open, even when nothing committed after it", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const c = consumer(name, [topic]);
    await c.drain();
    let commitA = () => {};
    const aMayCommit = new Promise<void>((r) => {
      commitA = r;
    });
    let aWrote = () => {};
    const aHasWritten = new Promise<void>((r) => {
      aWrote = r;
    });
    const a = db().transaction(async (tx) => {
      await writeOutbox(tx, event(topic, 1));
      aWrote();
      await aMayCommit;
    });
    await aHasWritten;
    expect(await c.drain(200)).toBe(0);
    commitA();
    await a;
    expect(await c.drain()).toBe(1);
    expect(await handled(name)).toEqual(await idsOf(topic));
  });

  it("handles every event of writers that commit out of order while it runs, each once", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const c = consumer(name, [topic], { listener });
    await c.drain();
    await c.start();
    try {
      const writers = Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 20; i++) {
          await db().transaction(async (tx) => {
            await writeOutbox(tx, event(topic, w * 100 + i));
            // Hold the transaction a random while after taking the id, so commits overtake each other.
            await sleep(Math.random() * 15);
          });
        }
      });
      await Promise.all(writers);
      await until("160 handled events", async () => (await handled(name)).length >= 160);
      await sleep(200);
      const ids = await idsOf(topic);
      expect(ids).toHaveLength(160);
      expect([...(await handled(name))].sort((x, y) => x - y)).toEqual(ids);
    } finally {
      await c.stop();
    }
  });

  it("works through a backlog in few transactions (one commit per group of events, not per event)", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const transactions = new Set<string>();
    const grouped = consumer(name, [topic], {
      eventsPerTransaction: 50,
      extra: async (tx) => {
        const [row] = await tx.execute<{ xact: string }>(sql`select pg_current_xact_id()::text as xact`);
        if (row) transactions.add(row.xact);
      },
    });
    await grouped.drain();
    for (let i = 0; i < 4; i++)
      await commit(...Array.from({ length: 30 }, (_, j) => event(topic, i * 30 + j)));
    expect(await grouped.drain()).toBe(120);
    expect(await handled(name)).toEqual(await idsOf(topic));
    // 120 events read 100 at a time, 50 per transaction: 50 + 50, then 20.
    expect(transactions.size).toBe(3);
  });

  it("a failing event in a group lets the ones before it commit, and the consumer stops at it", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    let failOn: number | null = null;
    const failing = consumer(name, [topic], {
      extra: async (_tx, m) => {
        if (m.id === failOn) throw new Error("this event cannot be handled");
      },
    });
    await failing.drain();
    await commit(...Array.from({ length: 10 }, (_, j) => event(topic, j)));
    const ids = await idsOf(topic);
    failOn = ids[6] ?? null;
    await expect(failing.drain()).rejects.toThrow("this event cannot be handled");
    expect(await handled(name)).toEqual(ids.slice(0, 6));
    expect(await failing.position()).toBe(ids[5]);
    failOn = null;
    expect(await failing.drain()).toBe(4);
    expect(await handled(name)).toEqual(ids);
  });

  it("a handler that throws before the commit leaves no trace; the next instance handles the event once", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    let failOn: number | null = null;
    const crashing = consumer(name, [topic], {
      extra: async (_tx, m) => {
        // The handler's own write is done; the process "dies" before the commit.
        if (m.id === failOn) throw new Error("killed between handler and commit");
      },
    });
    await crashing.drain();
    await commit(event(topic, 1), event(topic, 2), event(topic, 3));
    const ids = await idsOf(topic);
    failOn = ids[1] ?? null;
    await expect(crashing.drain()).rejects.toThrow("killed between handler and commit");
    expect(await handled(name)).toEqual(ids.slice(0, 1));
    expect(await crashing.position()).toBe(ids[0]);
    // The same instance retries the same event (and fails again): nothing is skipped to get past it.
    await expect(crashing.drain()).rejects.toThrow("killed between handler and commit");
    expect(await crashing.position()).toBe(ids[0]);

    const next = consumer(name, [topic]);
    // A crashed process gives no lease back: the next instance waits it out (30 s). Let it run out now.
    await db()
      .update(outboxConsumers)
      .set({ claimedUntil: sql`now() - interval '1 second'` })
      .where(eq(outboxConsumers.name, name));
    expect(await next.drain()).toBe(2);
    expect(await handled(name)).toEqual(ids);
  });

  it("a consumer stopped mid-batch hands over to the next one, and every event is handled once", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const slow = async () => {
      await sleep(10);
    };
    const first = consumer(name, [topic], { extra: slow, batchSize: 5 });
    await first.drain();
    for (let i = 0; i < 6; i++) await commit(...Array.from({ length: 5 }, (_, j) => event(topic, i * 5 + j)));
    await first.start();
    await until("a few handled events", async () => (await handled(name)).length >= 7);
    await first.stop(); // waits for the event in flight, gives the lease back
    const atStop = (await handled(name)).length;
    expect(atStop).toBeLessThan(30);
    const second = consumer(name, [topic], { extra: slow, batchSize: 5 });
    await second.start();
    try {
      await until("all 30 handled", async () => (await handled(name)).length >= 30);
      await sleep(100);
      const ids = await idsOf(topic);
      expect(await handled(name)).toEqual(ids);
      expect(await handledBy(name)).toEqual(new Set([first.instanceId, second.instanceId]));
    } finally {
      await second.stop();
    }
  });

  it("two instances running at once handle each event once, even when leases run out under them", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const jitter = async () => {
      await sleep(Math.random() * 4);
    };
    // A lease of 1 ms runs out between any two statements: both instances keep taking it over, and
    // only the locked cursor check keeps them from handling an event twice.
    const a = consumer(name, [topic], { listener, leaseMs: 1, pollMs: 5, extra: jitter, batchSize: 7 });
    const b = consumer(name, [topic], { listener, leaseMs: 1, pollMs: 5, extra: jitter, batchSize: 7 });
    await a.drain();
    await Promise.all([a.start(), b.start()]);
    try {
      await Promise.all(
        Array.from({ length: 6 }, async (_, w) => {
          for (let i = 0; i < 10; i++) await commit(event(topic, w * 10 + i));
        }),
      );
      await until("60 handled", async () => (await handled(name)).length >= 60);
      await sleep(200);
      const ids = await idsOf(topic);
      expect(ids).toHaveLength(60);
      expect(await handled(name)).toEqual(ids);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("with a normal lease one instance works at a time; the other takes over when it stops", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const a = consumer(name, [topic], { listener });
    const b = consumer(name, [topic], { listener });
    await a.drain(); // registers the cursor
    await commit(event(topic, 0));
    expect(await a.drain()).toBe(1); // a takes the lease (30 s) to handle it, and keeps it
    await b.start();
    await a.start();
    try {
      for (let i = 1; i < 6; i++) await commit(event(topic, i));
      await until("6 handled", async () => (await handled(name)).length >= 6);
      expect(await handledBy(name)).toEqual(new Set([a.instanceId]));
      await a.stop();
      await commit(event(topic, 6));
      await until("7 handled", async () => (await handled(name)).length >= 7);
      expect(await handledBy(name)).toEqual(new Set([a.instanceId, b.instanceId]));
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it("waits out the lease of a holder that died, then takes over", async () => {
    const topic = uniqueTopic();
    const name = `c-${tag()}`;
    const c = consumer(name, [topic], { listener });
    await c.drain();
    // A holder that died without giving its lease back; 1.5 s of it are left.
    await db()
      .update(outboxConsumers)
      .set({ claimedBy: "dead-instance", claimedUntil: sql`now() + interval '1500 milliseconds'` })
      .where(eq(outboxConsumers.name, name));
    await commit(event(topic, 1));
    const started = Date.now();
    await c.start();
    try {
      await sleep(500);
      expect(await handled(name)).toEqual([]);
      await until("the event handled", async () => (await handled(name)).length === 1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    } finally {
      await c.stop();
    }
  });
});

describe("the relay's purge and the consumers", () => {
  it("keeps published rows past the retention until every consumer has passed them", async () => {
    const topic = uniqueTopic();
    const [one, two] = [`c-${tag()}`, `c-${tag()}`];
    // Only this test's two consumers count (the earlier tests' cursors are behind these rows too).
    await db().delete(outboxConsumers);
    const relay = new OutboxRelay({
      db: db(),
      pubsub: createMemoryInfra().pubsub,
      logger,
      pollMs: 1000,
      retentionMs: 7 * DAY_MS,
    });
    const now = new Date();
    const ago = (days: number) => new Date(now.getTime() - days * DAY_MS);
    // Two consumers that are behind: registered before the rows, not run since.
    const first = consumer(one, [topic]);
    const second = consumer(two, [topic]);
    await first.drain();
    await second.drain();
    await db()
      .insert(outbox)
      .values(
        [1, 2].map((n) => ({
          storeId: randomUUID(),
          topic,
          key: randomUUID(),
          payload: { n },
          createdAt: ago(9),
          publishedAt: ago(8),
        })),
      );
    try {
      expect(await relay.purgePublished(now)).toBe(0);
      expect(await idsOf(topic)).toHaveLength(2);
      expect(await first.drain()).toBe(2);
      expect(await relay.purgePublished(now)).toBe(0);
      expect(await idsOf(topic)).toHaveLength(2);
      expect(await second.drain()).toBe(2);
      expect(await relay.purgePublished(now)).toBeGreaterThanOrEqual(2);
      expect(await idsOf(topic)).toEqual([]);
    } finally {
      await db().delete(outboxConsumers);
    }
  });
});
