/**
 * A real server process killed with SIGKILL in the middle of a checkout (right after T1, and right
 * after the authorisation), then started again: the recovery job must leave stock, order and payment
 * consistent, lose no order and charge nobody twice. Payments go through the real Stripe SDK to the
 * local stand-in, which lives in this test process and so outlives the server.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orders, payments, productVariants } from "../../src/db/schema.js";
import { readyShopper } from "../support/http-shopper.js";
import {
  freePortInRange,
  PORT_SLICES,
  postGraphQL,
  type ServerProcess,
  spawnServer,
} from "../support/server-process.js";
import { settleStock } from "../support/settle.js";
import { StripeStandIn } from "../support/stripe-stand-in.js";
import { createDatabaseFromTemplate } from "../support/test-app.js";

const WEBHOOK_SECRET = "whsec_crash_test_secret_0123456789";
let standIn: StripeStandIn;
let databaseUrl: string;
let sql: postgres.Sql;
let server: ServerProcess | undefined;
/** Every server this file started: each is stopped at the end, even when a test failed midway. */
const started: ServerProcess[] = [];

beforeAll(async () => {
  standIn = await StripeStandIn.start();
  databaseUrl = await createDatabaseFromTemplate();
  sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
  await sql?.end({ timeout: 5 });
  await standIn?.close();
});

async function start(extra: Record<string, string>): Promise<number> {
  server = spawnServer({
    NODE_ENV: "test",
    LOG_FORMAT: "json",
    DATABASE_URL: databaseUrl,
    HOST: "127.0.0.1",
    PORT: String(await freePortInRange(PORT_SLICES.checkoutCrash)),
    SEED_DEMO: "true",
    DEMO_STAFF_PASSWORD: "demo-password-for-tests",
    JWT_SECRET: "test-secret-that-is-long-enough-for-hs256!",
    RATE_LIMIT_PER_MINUTE: "0",
    CART_JOB_INTERVAL_SECONDS: "0",
    STRIPE_SECRET_KEY: standIn.secretKey,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE: standIn.url,
    CHECKOUT_SAGA_LEASE_SECONDS: "2",
    ...extra,
  });
  started.push(server);
  return server.ready();
}

const CHECKOUT = `mutation C($input: CheckoutInput!) { checkoutComplete(input: $input) {
  order { id status paymentStatus } userErrors { code } } }`;

async function variant(id: string) {
  await settleStock(drizzle(sql));
  const [row] = await drizzle(sql).select().from(productVariants).where(eq(productVariants.id, id));
  if (!row) throw new Error("no variant");
  return row;
}

async function orderOfCart(cartId: string) {
  const [row] = await drizzle(sql).select().from(orders).where(eq(orders.cartId, cartId));
  return row ?? null;
}

async function waitFor<T>(fn: () => Promise<T | null>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("a checkout cut short by SIGKILL", () => {
  for (const point of ["checkout:after-place-order", "checkout:after-authorize"] as const) {
    it(`recovers after a kill at ${point}: one order, one authorisation, one capture, stock right`, {
      timeout: 120_000,
    }, async () => {
      const port = await start({ FAULT_CRASH_AT: point, CHECKOUT_JOB_INTERVAL_SECONDS: "0" });
      const shopper = await readyShopper(port);
      const before = await variant(shopper.variantId);
      const idempotencyKey = `crash-${point}-${Date.now()}`;
      const input = { cartId: shopper.cartId, idempotencyKey, paymentMethod: "pm_card_visa" };
      await expect(postGraphQL(port, CHECKOUT, { input }, shopper.headers)).rejects.toThrow();
      const exit = await server!.exited;
      expect(exit.signal).toBe("SIGKILL");

      const left = await orderOfCart(shopper.cartId);
      expect(left?.status).toBe("PENDING");
      expect((await variant(shopper.variantId)).reserved).toBe(before.reserved + 1);
      const intentsBefore = standIn
        .posts("/v1/payment_intents")
        .filter((r) => r.handling === "executed").length;

      const restarted = await start({ CHECKOUT_JOB_INTERVAL_SECONDS: "1" });
      const settled = await waitFor(async () => {
        const o = await orderOfCart(shopper.cartId);
        return o && o.status !== "PENDING" ? o : null;
      }, "recovery to settle the order");
      expect(settled).toMatchObject({ id: left?.id, status: "CONFIRMED", paymentStatus: "CAPTURED" });
      const after = await variant(shopper.variantId);
      expect([after.stockOnHand, after.reserved]).toEqual([before.stockOnHand - 1, before.reserved]);
      const [payment] = await drizzle(sql).select().from(payments).where(eq(payments.orderId, settled.id));
      expect(payment?.captured).toBe(settled.total);
      const creates = standIn
        .posts("/v1/payment_intents")
        .filter(
          (r) =>
            r.handling === "executed" && (r.body.metadata as Record<string, string>)?.order_id === settled.id,
        );
      expect(creates).toHaveLength(1);
      expect(standIn.posts("/v1/payment_intents").filter((r) => r.handling === "executed").length).toBe(
        point === "checkout:after-place-order" ? intentsBefore + 1 : intentsBefore,
      );
      const captures = standIn
        .posts(/\/capture$/)
        .filter((r) => r.handling === "executed" && r.path.includes(payment!.intentId!));
      expect(captures).toHaveLength(1);
      // The shopper's retry with the same key learns the outcome; nothing more is charged.
      const retry = await postGraphQL<{ checkoutComplete: { order: { id: string; status: string } } }>(
        restarted,
        CHECKOUT,
        { input },
        shopper.headers,
      );
      expect(retry.data?.checkoutComplete.order).toMatchObject({ id: settled.id, status: "CONFIRMED" });
      expect(
        standIn
          .posts(/\/capture$/)
          .filter((r) => r.handling === "executed" && r.path.includes(payment!.intentId!)),
      ).toHaveLength(1);
      await server!.stop();
      server = undefined;
    });
  }
});
