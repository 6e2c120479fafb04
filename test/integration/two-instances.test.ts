/**
 * Two real server processes on one PostgreSQL and one Redis, as behind a load balancer: a subscriber
 * connected to one receives, within a second, the event of a change made through the other. Needs a
 * Redis (the in-memory twin is one process's alone): it runs whenever REDIS_URL is set, as in CI.
 */
import { afterAll, describe, expect, inject, it } from "vitest";
import { readyShopper } from "../support/http-shopper.js";
import {
  freePortInRange,
  PORT_SLICES,
  postGraphQL,
  type ServerProcess,
  spawnServer,
} from "../support/server-process.js";
import { createDatabaseFromTemplate } from "../support/test-app.js";
import { openWs } from "../support/ws-client.js";

const redisUrl = inject("redisUrl");
const servers: ServerProcess[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function start(databaseUrl: string): Promise<number> {
  const server = spawnServer({
    NODE_ENV: "test",
    LOG_FORMAT: "json",
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl ?? "",
    HOST: "127.0.0.1",
    PORT: String(await freePortInRange(PORT_SLICES.twoInstances)),
    SEED_DEMO: "true",
    DEMO_STAFF_PASSWORD: "demo-password-for-tests",
    JWT_SECRET: "test-secret-that-is-long-enough-for-hs256!",
    RATE_LIMIT_PER_MINUTE: "0",
    CART_JOB_INTERVAL_SECONDS: "0",
  });
  servers.push(server);
  return server.ready();
}

describe.skipIf(!redisUrl)("several instances", () => {
  it("delivers an event caused on one instance to a subscriber of the other within a second", {
    timeout: 120_000,
  }, async () => {
    const databaseUrl = await createDatabaseFromTemplate();
    const a = await start(databaseUrl);
    const b = await start(databaseUrl);
    const login = await postGraphQL<{ staffLogin: { token: string } }>(
      b,
      `mutation { staffLogin(email: "staff@demo.test", password: "demo-password-for-tests") { token } }`,
      {},
      { "x-store": "demo" },
    );
    const staffToken = login.data?.staffLogin.token as string;
    expect(staffToken).toBeTruthy();

    const ws = await openWs(`ws://127.0.0.1:${a}/graphql`, { store: "demo", token: staffToken });
    const sub = ws.subscribe<{ orderStatusChanged: { to: string; order: { id: string } } }>(
      `subscription { orderStatusChanged { to order { id } } }`,
    );
    await new Promise((r) => setTimeout(r, 300));

    const shopper = await readyShopper(b);
    const placed = await postGraphQL<{ checkoutComplete: { order: { id: string; status: string } } }>(
      b,
      `mutation C($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id status } userErrors { code } } }`,
      {
        input: {
          cartId: shopper.cartId,
          idempotencyKey: `two-${Date.now()}-x`,
          paymentMethod: "pm_card_visa",
        },
      },
      shopper.headers,
    );
    const orderId = placed.data?.checkoutComplete.order.id as string;
    expect(placed.data?.checkoutComplete.order.status).toBe("CONFIRMED");
    await sub.waitFor(1, 5000);

    const sent = Date.now();
    const moved = await postGraphQL<{ orderTransition: { userErrors: unknown[] } }>(
      b,
      `mutation M($id: ID!) { orderTransition(orderId: $id, to: PROCESSING) { userErrors { code } } }`,
      { id: orderId },
      { "x-store": "demo", authorization: `Bearer ${staffToken}` },
    );
    expect(moved.data?.orderTransition.userErrors).toEqual([]);
    const events = await sub.waitFor(2, 5000);
    const took = Date.now() - sent;
    expect(events[1]?.data?.orderStatusChanged).toEqual({ to: "PROCESSING", order: { id: orderId } });
    expect(took).toBeLessThan(1000);
    sub.stop();
    await ws.close();
  });
});
