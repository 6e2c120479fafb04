/**
 * The notification sender against a real PostgreSQL: a sent row is SENT and never sent again; a
 * failed send is retried with exponential backoff (capped) and FAILED after the last attempt; a row
 * that can never render fails at once; a send that hangs times out; two senders racing over the same
 * rows send each one once; a sender that dies mid-send leaves its row to another once the lease runs
 * out, and a row whose last attempt died that way ends FAILED.
 */
import { randomUUID } from "node:crypto";
import { eq, inArray, sql } from "drizzle-orm";
import { beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { notifications } from "../../src/db/schema.js";
import { createLogger } from "../../src/logger.js";
import type { StoreRef } from "../../src/services/context.js";
import { notificationRenderer } from "../../src/services/notifications/notification-jobs.js";
import {
  NotificationSender,
  type NotificationSenderOptions,
  retryDelayMs,
} from "../../src/services/notifications/notification-sender.job.js";
import { TemplateError } from "../../src/services/notifications/notification-templates.js";
import type {
  NotificationTransport,
  RenderedNotification,
} from "../../src/services/notifications/notification-transport.js";
import { createStore } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp({ env: { NOTIFICATIONS_ENABLED: "false" } });
const logger = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
const db = (): Db => t.app.runtime.database.db;

/** Records every send; `fail` decides which throw, `delayMs` makes each one take a while. */
class ScriptedTransport implements NotificationTransport {
  readonly sent: RenderedNotification[] = [];
  constructor(
    private readonly script: { fail?: (m: RenderedNotification) => boolean; delayMs?: number } = {},
  ) {}
  async send(message: RenderedNotification): Promise<void> {
    if (this.script.delayMs) await new Promise((r) => setTimeout(r, this.script.delayMs));
    if (this.script.fail?.(message)) throw new Error("mail server said no");
    this.sent.push(message);
  }
}

let store: StoreRef;
beforeEach(async () => {
  store = await createStore(t.app);
});

/** Due PENDING rows of a template every renderer can render (an order confirmation). */
async function pending(count: number): Promise<string[]> {
  const rows = await db()
    .insert(notifications)
    .values(
      Array.from({ length: count }, (_, i) => ({
        storeId: store.id,
        eventId: 1_000_000 + Math.floor(Math.random() * 1e9),
        channel: "email",
        template: "order_confirmed",
        recipient: `r${i}-${randomUUID()}@test.example`,
        payload: {
          storeName: store.name,
          orderId: randomUUID(),
          orderNumber: String(100_000 + i),
          currency: "USD",
          total: 1999,
        },
      })),
    )
    .returning({ id: notifications.id });
  return rows.map((r) => r.id);
}

function sender(transport: NotificationTransport, opts: Partial<NotificationSenderOptions> = {}) {
  return new NotificationSender({
    db: db(),
    transport,
    render: notificationRenderer(t.app.runtime.services.cartRecovery),
    logger,
    pollMs: 1000,
    retryBaseMs: 1000,
    retryMaxMs: 4000,
    maxAttempts: 4,
    isPermanent: (err) => err instanceof TemplateError,
    ...opts,
  });
}

async function state(ids: string[]) {
  return db()
    .select({
      id: notifications.id,
      status: notifications.status,
      attempts: notifications.attempts,
      lastError: notifications.lastError,
      sentAt: notifications.sentAt,
      // Seconds until the next attempt, by the database's clock.
      dueIn: sql<number>`round(extract(epoch from ${notifications.nextAttemptAt} - now()))::int`,
    })
    .from(notifications)
    .where(inArray(notifications.id, ids));
}

/** Pretends the backoff has passed. */
async function makeDue(ids: string[]): Promise<void> {
  await db().update(notifications).set({ nextAttemptAt: sql`now()` }).where(inArray(notifications.id, ids));
}

describe("NotificationSender", () => {
  it("sends a due row, marks it SENT and never sends it again", async () => {
    const ids = await pending(1);
    const transport = new ScriptedTransport();
    const s = sender(transport);
    expect(await s.sendDue()).toMatchObject({ sent: 1 });
    expect(transport.sent.filter((m) => ids.includes(m.id))).toHaveLength(1);
    const [row] = await state(ids);
    expect(row).toMatchObject({ status: "SENT", attempts: 1, lastError: null });
    expect(row?.sentAt).toBeInstanceOf(Date);
    await makeDue(ids);
    await s.sendDue();
    expect(transport.sent.filter((m) => ids.includes(m.id))).toHaveLength(1);
  });

  it("retries a failed send with exponential backoff up to the cap, then FAILED", async () => {
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, 1000, 4000))).toEqual([1000, 2000, 4000, 4000, 4000]);
    const ids = await pending(1);
    const s = sender(new ScriptedTransport({ fail: () => true }));
    const seen: { status: string; attempts: number; dueIn: number }[] = [];
    for (let i = 0; i < 4; i++) {
      await s.sendDue();
      const [row] = await state(ids);
      if (!row) throw new Error("row gone");
      seen.push({ status: row.status, attempts: row.attempts, dueIn: row.dueIn });
      expect(row.lastError).toBe("mail server said no");
      // Not due before its time: another pass right away claims nothing of it.
      if (row.status === "PENDING") expect((await s.sendDue()).claimed).toBe(0);
      await makeDue(ids);
    }
    expect(seen).toEqual([
      { status: "PENDING", attempts: 1, dueIn: 1 },
      { status: "PENDING", attempts: 2, dueIn: 2 },
      { status: "PENDING", attempts: 3, dueIn: 4 },
      { status: "FAILED", attempts: 4, dueIn: 4 },
    ]);
    expect((await s.sendDue()).claimed).toBe(0);
  });

  it("a row that can never render fails at once; a send that hangs times out and is retried", async () => {
    const [broken] = await pending(1);
    if (!broken) throw new Error("no row");
    await db()
      .update(notifications)
      .set({ payload: { nonsense: true } })
      .where(eq(notifications.id, broken));
    const hanging: NotificationTransport = { send: () => new Promise(() => {}) };
    const s = sender(hanging, { sendTimeoutMs: 100, leaseMs: 1000 });
    const ids = await pending(1);
    await s.sendDue();
    const rows = new Map((await state([broken, ...ids])).map((r) => [r.id, r]));
    expect(rows.get(broken)).toMatchObject({ status: "FAILED", attempts: 1 });
    expect(rows.get(ids[0] as string)).toMatchObject({
      status: "PENDING",
      attempts: 1,
      lastError: "transport did not answer within 100 ms",
    });
  });

  it("senders racing over the same rows send each row exactly once", async () => {
    const ids = await pending(120);
    const transport = new ScriptedTransport({ delayMs: 1 });
    const senders = [7, 5, 3, 4].map((batchSize) => sender(transport, { batchSize }));
    await Promise.all(
      senders.map(async (s) => {
        while ((await s.sendDue()).claimed > 0) {}
      }),
    );
    const mine = transport.sent.filter((m) => ids.includes(m.id)).map((m) => m.id);
    expect(mine.sort()).toEqual([...ids].sort());
    expect(new Set((await state(ids)).map((r) => r.status))).toEqual(new Set(["SENT"]));
  });

  it("a sender that died mid-send leaves its row to another after the lease; with no attempt left it ends FAILED", async () => {
    const ids = await pending(2);
    const [first, second] = ids as [string, string];
    // A claim made by a sender that then died: attempts counted, lease running, never settled.
    await db()
      .update(notifications)
      .set({ attempts: 1, nextAttemptAt: sql`now() + interval '400 milliseconds'` })
      .where(eq(notifications.id, first));
    await db()
      .update(notifications)
      .set({ attempts: 4, nextAttemptAt: sql`now() + interval '400 milliseconds'` })
      .where(eq(notifications.id, second));
    const transport = new ScriptedTransport();
    const s = sender(transport);
    await s.sendDue();
    expect(transport.sent.filter((m) => ids.includes(m.id))).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    await s.sendDue();
    expect(transport.sent.filter((m) => ids.includes(m.id)).map((m) => m.id)).toEqual([first]);
    const rows = new Map((await state(ids)).map((r) => [r.id, r]));
    expect(rows.get(first)).toMatchObject({ status: "SENT", attempts: 2 });
    expect(rows.get(second)).toMatchObject({ status: "FAILED", attempts: 4 });
  });

  it("a running sender is woken and sends without waiting for its poll", async () => {
    const transport = new ScriptedTransport();
    const s = sender(transport, { pollMs: 60_000 });
    s.start();
    try {
      const ids = await pending(3);
      s.wake();
      const deadline = Date.now() + 5000;
      while (transport.sent.filter((m) => ids.includes(m.id)).length < 3) {
        if (Date.now() > deadline) throw new Error("not sent");
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await s.stop();
    }
  });
});
