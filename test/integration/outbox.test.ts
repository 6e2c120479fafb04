/**
 * The transactional outbox against a real PostgreSQL: what commits is published (at least once, in id
 * order per relay), what rolls back never is, a failed publish is retried rather than lost, two relays
 * on one database publish each event once, a relay holds no database transaction open while it
 * publishes (its lease keeps other relays off the rows instead), and a relay that dies mid-publish
 * loses its rows to another relay once its lease runs out.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { and, asc, eq, gt, isNull, sql } from "drizzle-orm";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { outbox } from "../../src/db/schema.js";
import { createMemoryInfra } from "../../src/infra/memory.js";
import type { PubSub, Subscription } from "../../src/infra/types.js";
import { createLogger } from "../../src/logger.js";
import {
  entityChannel,
  isOutboxMessage,
  type OutboxEvent,
  type OutboxMessage,
  storeChannel,
  writeOutbox,
} from "../../src/services/outbox.js";
import { OutboxRelay, type OutboxRelayOptions } from "../../src/services/outbox-relay.js";
import { useTestApp } from "../support/test-app.js";

// The relay alone: the notifications consumer, woken by the same commits, would open short
// transactions of its own while these tests count open transactions (it has tests of its own).
const t = useTestApp({ env: { NOTIFICATIONS_ENABLED: "false" } });
const logger = createLogger("silent");
const DAY_MS = 24 * 60 * 60 * 1000;

/** A topic no other test publishes on, so a subscriber sees only its own test's events. */
const uniqueTopic = () => `t${randomBytes(4).toString("hex")}.happened`;

const db = (): Db => t.app.runtime.database.db;

async function commit(...events: OutboxEvent[]): Promise<void> {
  await db().transaction(async (tx) => {
    for (const e of events) await writeOutbox(tx, e);
  });
}

function event(topic: string, n: number, key: string = randomUUID(), storeId = randomUUID()): OutboxEvent {
  return { storeId, topic, key, payload: { n } };
}

async function nextMessage(sub: Subscription): Promise<OutboxMessage> {
  const r = await sub.next();
  if (r.done) throw new Error("subscription ended");
  if (!isOutboxMessage(r.value)) throw new Error(`not an outbox message: ${JSON.stringify(r.value)}`);
  return r.value;
}

async function take(sub: Subscription, n: number): Promise<OutboxMessage[]> {
  const out: OutboxMessage[] = [];
  for (let i = 0; i < n; i++) out.push(await nextMessage(sub));
  return out;
}

async function unpublished(topic: string): Promise<number> {
  const rows = await db()
    .select({ id: outbox.id })
    .from(outbox)
    .where(and(eq(outbox.topic, topic), isNull(outbox.publishedAt)));
  return rows.length;
}

/** Each of the topic's rows in id order: who leased it, whether that lease is live, whether it went out. */
async function leases(
  topic: string,
): Promise<{ claimedBy: string | null; leased: boolean; published: boolean }[]> {
  return db()
    .select({
      claimedBy: outbox.claimedBy,
      leased: sql<boolean>`coalesce(${outbox.claimedUntil} > now(), false)`,
      published: sql<boolean>`${outbox.publishedAt} is not null`,
    })
    .from(outbox)
    .where(eq(outbox.topic, topic))
    .orderBy(asc(outbox.id));
}

/** Waits (polling the database's clock, not ours) until no row of the topic is under a live lease. */
async function leasesRunOut(topic: string): Promise<void> {
  for (;;) {
    const live = await db()
      .select({ id: outbox.id })
      .from(outbox)
      .where(and(eq(outbox.topic, topic), gt(outbox.claimedUntil, sql`now()`)));
    if (live.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Client connections to this test's database, other than the asking one, inside a transaction now. */
async function openTransactions(): Promise<number> {
  const [row] = await db().execute<{ open: number }>(sql`
    select count(*)::int as open from pg_stat_activity
    where datname = current_database() and backend_type = 'client backend'
      and pid <> pg_backend_pid() and xact_start is not null`);
  if (!row) throw new Error("pg_stat_activity count returned no row");
  return row.open;
}

/**
 * A pub/sub whose publishes all wait until `open()` is called: a network call held in flight for as
 * long as the test likes. `reached` resolves once the first publish is waiting.
 */
function gated(inner: PubSub): { pubsub: PubSub; reached: Promise<void>; open(): void } {
  let reachedNow = () => {};
  const reached = new Promise<void>((resolve) => {
    reachedNow = resolve;
  });
  let openNow = () => {};
  const opened = new Promise<void>((resolve) => {
    openNow = resolve;
  });
  return {
    pubsub: {
      async publish(topic, payload) {
        reachedNow();
        await opened;
        await inner.publish(topic, payload);
      },
      subscribe: (topic, signal) => inner.subscribe(topic, signal),
      close: () => inner.close(),
    },
    reached,
    open: openNow,
  };
}

/** A pub/sub whose publish fails (once) for the calls `fails` picks; everything else goes through. */
function flaky(inner: PubSub, fails: (topic: string, payload: Record<string, unknown>) => boolean): PubSub {
  let failed = false;
  return {
    async publish(topic, payload) {
      if (!failed && fails(topic, payload)) {
        failed = true;
        throw new Error("pub/sub unavailable");
      }
      await inner.publish(topic, payload);
    },
    subscribe: (topic, signal) => inner.subscribe(topic, signal),
    close: () => inner.close(),
  };
}

describe("the runtime's relay", () => {
  it("publishes a committed event on its entity, store and topic channels without being asked", async () => {
    const { pubsub } = t.app.runtime.infra;
    const e = event("order.status_changed", 1);
    const subs = [entityChannel(e.topic, e.key), storeChannel(e.topic, e.storeId), e.topic].map((c) =>
      pubsub.subscribe(c),
    );
    await Promise.all(subs.map((s) => s.ready));
    await commit({ ...e, payload: { from: "PENDING", to: "CONFIRMED", at: new Date(0) } });

    const received = await Promise.all(subs.map(nextMessage));
    for (const m of received) {
      expect(m).toEqual({
        id: expect.any(Number),
        storeId: e.storeId,
        topic: "order.status_changed",
        key: e.key,
        occurredAt: expect.any(String),
        payload: { from: "PENDING", to: "CONFIRMED", at: "1970-01-01T00:00:00.000Z" },
      });
    }
    expect(new Set(received.map((m) => m.id)).size).toBe(1);
    // Publishing precedes the statement that marks the row; a drain queues behind the round in flight.
    await t.app.runtime.outboxRelay.drain();
    expect(await unpublished(e.topic)).toBe(0);
    await Promise.all(subs.map((s) => s.return?.()));
  });
});

describe("OutboxRelay", () => {
  const relays: OutboxRelay[] = [];
  const relay = (opts: Partial<OutboxRelayOptions> & { pubsub: PubSub }): OutboxRelay => {
    const r = new OutboxRelay({ db: db(), logger, pollMs: 60 * 60 * 1000, ...opts });
    relays.push(r);
    return r;
  };

  beforeAll(async () => {
    // These tests run their own relays; the runtime's would compete for the rows.
    await t.app.runtime.outboxRelay.stop();
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
  });

  it("wakes on NOTIFY when a transaction with an event commits", async () => {
    const { pubsub } = createMemoryInfra();
    // Polling once an hour: only the notification can bring the event out in this test.
    const r = relay({ pubsub, listener: t.app.runtime.database.sql });
    await r.start();
    await r.idle(); // the start-up pass is over: nothing else is going to look at the table
    const topic = uniqueTopic();
    const sub = pubsub.subscribe(topic);
    await sub.ready;
    await commit(event(topic, 1));
    expect((await nextMessage(sub)).payload).toEqual({ n: 1 });
    await sub.return?.();
  });

  it("never publishes an event whose transaction rolled back", async () => {
    const { pubsub } = createMemoryInfra();
    const r = relay({ pubsub });
    const topic = uniqueTopic();
    const sub = pubsub.subscribe(topic);
    await sub.ready;
    await expect(
      db().transaction(async (tx) => {
        await writeOutbox(tx, event(topic, 1));
        throw new Error("the change failed");
      }),
    ).rejects.toThrow("the change failed");
    await commit(event(topic, 2));
    await r.drain();
    // The first message is the committed one: the rolled-back event never came before it.
    expect((await nextMessage(sub)).payload).toEqual({ n: 2 });
    const rows = await db().select({ payload: outbox.payload }).from(outbox).where(eq(outbox.topic, topic));
    expect(rows).toEqual([{ payload: { n: 2 } }]);
    await sub.return?.();
  });

  it("keeps a failed event, releases its lease, and delivers it on a later round", async () => {
    const memory = createMemoryInfra().pubsub;
    const e = event(uniqueTopic(), 1);
    const entity = entityChannel(e.topic, e.key);
    const r = relay({ pubsub: flaky(memory, (topic) => topic === entity) });
    const entitySub = memory.subscribe(entity);
    const storeSub = memory.subscribe(storeChannel(e.topic, e.storeId));
    await Promise.all([entitySub.ready, storeSub.ready]);
    await commit(e);

    await expect(r.drain()).rejects.toThrow("pub/sub unavailable");
    expect(await unpublished(e.topic)).toBe(1);
    // Released, not left to run out: any relay may retry it right away.
    expect(await leases(e.topic)).toEqual([{ claimedBy: r.relayId, leased: false, published: false }]);

    const other = relay({ pubsub: memory });
    expect(await other.drain()).toBeGreaterThanOrEqual(1);
    expect(await unpublished(e.topic)).toBe(0);
    const delivered = await nextMessage(entitySub);
    expect(delivered).toMatchObject({ key: e.key, payload: { n: 1 } });
    // At least once: the store channel had it from the failed round already, and again now, same id.
    const [first, again] = await take(storeSub, 2);
    expect(first?.id).toBe(delivered.id);
    expect(again?.id).toBe(delivered.id);
    await Promise.all([entitySub.return?.(), storeSub.return?.()]);
  });

  it("after a failed publish, marks what went out and resumes in order with the failed event", async () => {
    const memory = createMemoryInfra().pubsub;
    const topic = uniqueTopic();
    const keys = [randomUUID(), randomUUID(), randomUUID()];
    const r = relay({
      pubsub: flaky(memory, (channel, payload) => channel === topic && payload.key === keys[1]),
    });
    const sub = memory.subscribe(topic);
    await sub.ready;
    await commit(...keys.map((k, i) => event(topic, i + 1, k)));

    await expect(r.drain()).rejects.toThrow("pub/sub unavailable");
    expect(await unpublished(topic)).toBe(2);
    expect(await leases(topic)).toEqual([
      { claimedBy: r.relayId, leased: false, published: true },
      { claimedBy: r.relayId, leased: false, published: false },
      { claimedBy: r.relayId, leased: false, published: false },
    ]);
    await r.drain();
    expect(await unpublished(topic)).toBe(0);
    const received = await take(sub, 3);
    expect(received.map((m) => m.payload)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    // Nothing is published twice on this channel: a marker published now is the very next message.
    await memory.publish(topic, { marker: true });
    expect(await sub.next()).toEqual({ value: { marker: true }, done: false });
    await sub.return?.();
  });

  it("publishes in id order within one relay, across batches and transactions", async () => {
    const { pubsub } = createMemoryInfra();
    const r = relay({ pubsub, batchSize: 7 });
    const topic = uniqueTopic();
    const sub = pubsub.subscribe(topic);
    await sub.ready;
    const key = randomUUID();
    for (let n = 1; n <= 30; n++) await commit(event(topic, n, key));
    await r.drain();
    const received = await take(sub, 30);
    expect(received.map((m) => m.payload.n)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const ids = received.map((m) => m.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    await sub.return?.();
  });

  it("two relays draining the same rows at once claim and deliver each event exactly once", async () => {
    const { pubsub } = createMemoryInfra();
    const first = relay({ pubsub, batchSize: 5 });
    const second = relay({ pubsub, batchSize: 5 });
    await first.drain(); // leftovers of other tests out of the way: the claims below are all ours
    const topic = uniqueTopic();
    const sub = pubsub.subscribe(topic);
    await sub.ready;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => commit(...[0, 1, 2, 3].map((j) => event(topic, i * 4 + j + 1)))),
    );

    const claims = await Promise.all([first.drain(), second.drain(), first.drain(), second.drain()]);
    expect(claims.reduce((a, b) => a + b, 0)).toBe(200);
    const received = await take(sub, 200);
    expect(new Set(received.map((m) => m.id)).size).toBe(200);
    expect(new Set(received.map((m) => m.payload.n)).size).toBe(200);
    await pubsub.publish(topic, { marker: true });
    expect(await sub.next()).toEqual({ value: { marker: true }, done: false });
    await sub.return?.();
  });

  it("two running relays, woken by NOTIFY while writers commit concurrently, deliver each event once", async () => {
    const { pubsub } = createMemoryInfra();
    const listener = t.app.runtime.database.sql;
    const relaysUp = [relay({ pubsub, listener, batchSize: 3 }), relay({ pubsub, listener, batchSize: 3 })];
    await Promise.all(relaysUp.map((r) => r.start()));
    const topic = uniqueTopic();
    const sub = pubsub.subscribe(topic);
    await sub.ready;
    await Promise.all(Array.from({ length: 100 }, (_, i) => commit(event(topic, i + 1))));

    const received = await take(sub, 100);
    expect(new Set(received.map((m) => m.payload.n)).size).toBe(100);
    await Promise.all(relaysUp.map((r) => r.stop()));
    expect(await unpublished(topic)).toBe(0);
    await pubsub.publish(topic, { marker: true });
    expect(await sub.next()).toEqual({ value: { marker: true }, done: false });
    await sub.return?.();
  });

  it("holds no transaction open while publishing; its lease keeps other relays off the rows", async () => {
    const { pubsub } = t.app.runtime.infra;
    await relay({ pubsub: createMemoryInfra().pubsub }).drain(); // leftovers of other tests out of the way
    const gate = gated(pubsub);
    const holder = relay({ pubsub: gate.pubsub });
    const other = relay({ pubsub });
    const topic = uniqueTopic();
    const sub = pubsub.subscribe(topic);
    await sub.ready;
    await commit(event(topic, 1), event(topic, 2));
    // The probe is not blind: it does see a transaction left open on another connection.
    await db().transaction(async (tx) => {
      await tx.execute(sql`select 1`);
      expect(await openTransactions()).toBe(1);
    });

    const draining = holder.drain();
    await gate.reached; // the holder is inside a publish, waiting on the network
    expect(await openTransactions()).toBe(0);
    expect(await leases(topic)).toEqual([
      { claimedBy: holder.relayId, leased: true, published: false },
      { claimedBy: holder.relayId, leased: true, published: false },
    ]);
    expect(await other.drain()).toBe(0);

    gate.open();
    expect(await draining).toBe(2);
    expect((await take(sub, 2)).map((m) => m.payload)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await leases(topic)).toEqual([
      { claimedBy: holder.relayId, leased: false, published: true },
      { claimedBy: holder.relayId, leased: false, published: true },
    ]);
    await sub.return?.();
  });

  it("when a relay dies mid-publish, another delivers its events once the lease runs out", async () => {
    const { pubsub } = t.app.runtime.infra;
    await relay({ pubsub: createMemoryInfra().pubsub }).drain(); // leftovers of other tests out of the way
    const gate = gated(pubsub);
    const dying = relay({ pubsub: gate.pubsub, leaseMs: 1000 });
    const survivor = relay({ pubsub });
    const topic = uniqueTopic();
    const sub = pubsub.subscribe(topic);
    await sub.ready;
    await commit(event(topic, 1), event(topic, 2), event(topic, 3));

    const stuck = dying.drain();
    await gate.reached; // it leased all three and hangs publishing the first: as good as dead
    await leasesRunOut(topic);
    expect(await survivor.drain()).toBe(3);
    const delivered = await take(sub, 3);
    expect(delivered.map((m) => m.payload)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const survivorsRows = Array.from({ length: 3 }, () => ({
      claimedBy: survivor.relayId,
      leased: false,
      published: true,
    }));
    expect(await leases(topic)).toEqual(survivorsRows);

    // The dead relay wakes up: the publish it had in flight completes (a duplicate: at least once), but
    // it starts no other row on its lapsed lease and leaves the survivor's rows as they are.
    gate.open();
    await stuck;
    expect((await nextMessage(sub)).id).toBe(delivered[0]?.id);
    await pubsub.publish(topic, { marker: true });
    expect(await sub.next()).toEqual({ value: { marker: true }, done: false });
    expect(await leases(topic)).toEqual(survivorsRows);
    await sub.return?.();
  });

  it("purges published events past the retention and keeps the rest", async () => {
    const r = relay({ pubsub: createMemoryInfra().pubsub, retentionMs: 7 * DAY_MS });
    const topic = uniqueTopic();
    const now = new Date();
    const ago = (days: number) => new Date(now.getTime() - days * DAY_MS);
    const row = (n: number, publishedAt: Date | null) => ({
      storeId: randomUUID(),
      topic,
      key: randomUUID(),
      payload: { n },
      createdAt: ago(9),
      publishedAt,
    });
    await db()
      .insert(outbox)
      .values([row(1, ago(8)), row(2, ago(6)), row(3, null)]);
    expect(await r.purgePublished(now)).toBeGreaterThanOrEqual(1);
    const left = await db().select({ payload: outbox.payload }).from(outbox).where(eq(outbox.topic, topic));
    expect(left.map((x) => x.payload).sort((a, b) => Number(a.n) - Number(b.n))).toEqual([
      { n: 2 },
      { n: 3 },
    ]);
    // The unpublished row was not the purge's to take; publish it so no other test sees it.
    await r.drain();
  });

  it("rejects topics and keys that would make channel names ambiguous", async () => {
    await expect(commit(event("Order status", 1))).rejects.toThrow("invalid outbox topic");
    await expect(commit(event("order.status_changed", 1, "a:b"))).rejects.toThrow("invalid outbox key");
  });
});
