/**
 * The notification pipeline as the runtime wires it: a checkout's confirmation reaches the transport
 * within moments, without anyone draining anything (LISTEN/NOTIFY wakes the consumer, the consumer
 * wakes the sender), and stopping the runtime stops both jobs and gives the consumer's lease back.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { outboxConsumers } from "../../src/db/schema.js";
import { NOTIFICATIONS_CONSUMER } from "../../src/services/notifications/notification-jobs.js";
import type {
  NotificationTransport,
  RenderedNotification,
} from "../../src/services/notifications/notification-transport.js";
import { checkout, productWithStock, readyCart, shop } from "../support/checkout-fixtures.js";
import { createStore, unique } from "../support/fixtures.js";
import { createTestApp } from "../support/test-app.js";

describe("the runtime's notification jobs", () => {
  it("deliver a checkout's confirmation on their own, and stop with the runtime", async () => {
    const sent: RenderedNotification[] = [];
    const transport: NotificationTransport = {
      async send(message) {
        sent.push(message);
      },
    };
    // Polls far apart: only the wake-ups can make this quick.
    const app = await createTestApp({
      env: { OUTBOX_CONSUMER_POLL_MS: "60000", NOTIFICATION_POLL_MS: "60000" },
      notificationTransport: transport,
    });
    try {
      const store = await createStore(app);
      const setup = await shop(app, store);
      const { variantId } = await productWithStock(app, store, 5);
      const email = `buyer-${unique()}@test.example`;
      const ready = await readyCart(app, setup, [{ variantId, quantity: 1 }], { email });
      const started = Date.now();
      const placed = await checkout(app, store, ready.guest.token, { cartId: ready.cartId });
      expect(placed.order?.status).toBe("CONFIRMED");
      while (!sent.some((m) => m.to === email)) {
        if (Date.now() - started > 10_000) throw new Error("no confirmation within 10 s");
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(sent.find((m) => m.to === email)?.template).toBe("order_confirmed");
    } finally {
      await app.close();
    }
    const check = await createTestApp({
      databaseUrl: app.databaseUrl,
      env: { NOTIFICATIONS_ENABLED: "false" },
    });
    try {
      const [cursor] = await check.runtime.database.db
        .select()
        .from(outboxConsumers)
        .where(eq(outboxConsumers.name, NOTIFICATIONS_CONSUMER));
      expect(cursor).toMatchObject({ claimedBy: null, claimedUntil: null });
    } finally {
      await check.close();
    }
  });
});
