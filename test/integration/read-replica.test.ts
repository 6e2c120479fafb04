/**
 * Catalog reads from a real PostgreSQL streaming replica. The file builds its own primary and hot
 * standby (test/support/replication-pair.ts) and starts Cartograph with DATABASE_URL = primary and
 * DATABASE_READ_URL = replica. Which server answered is shown two ways: the per-pool statement count
 * the test server reports (`x-sql-statements-replica`), and data only one of the servers has (with
 * replay paused, a change on the primary is missing on the replica).
 */
import { sql as drizzleSql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../../src/db/migrate.js";
import type { ReadReplica } from "../../src/db/read-replica.js";
import type { StoreRef } from "../../src/services/context.js";
import { cartApi, okCart } from "../support/cart-api.js";
import {
  createCustomer,
  createGuest,
  createProduct,
  createStaff,
  createStore,
  fixtureStaff,
  serviceContext,
  type TestCustomer,
  type TestGuest,
  type TestStaff,
} from "../support/fixtures.js";
import {
  type ReplicationPair,
  replicationUnavailable,
  startReplicationPair,
} from "../support/replication-pair.js";
import { createTestApp, type GqlOptions, type GqlResponse, type TestApp } from "../support/test-app.js";

const unavailable = replicationUnavailable();
if (unavailable && process.env.CI === "true") {
  throw new Error(`read replica tests cannot run in CI: ${unavailable}`);
}
if (unavailable) console.warn(`read replica tests skipped: ${unavailable}`);

const MAX_LAG_MS = 1500;
const PROBE_MS = 100;

const VARIANT = `query V($id: ID!) { variant(id: $id) { id sku price { amount } product { id name } } }`;
const PRODUCT = `query P($id: ID!) { product(id: $id) { id name variants { sku price { amount } } } }`;
const PRODUCTS = `query L($query: String) {
  products(first: 50, query: $query) { edges { node { id name status variants { sku price { amount } } } } } }`;

type VariantData = {
  variant: { id: string; sku: string; price: { amount: number }; product: { name: string } } | null;
};
type ProductsData = {
  products: { edges: { node: { id: string; name: string; status: string; variants: { sku: string }[] } }[] };
};

const replicaStatements = (res: GqlResponse) => Number(res.headers.get("x-sql-statements-replica"));
const allStatements = (res: GqlResponse) => Number(res.headers.get("x-sql-statements"));

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A response that must have succeeded; returns it with its data. */
async function ok<T>(app: TestApp, query: string, variables: Record<string, unknown>, opts: GqlOptions) {
  const res = await app.gql<T>(query, variables, opts);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.status).toBe(200);
  return res as GqlResponse<T> & { data: T };
}

function replicaOf(app: TestApp): ReadReplica {
  const replica = app.runtime.readReplica;
  if (!replica) throw new Error("the app has no read replica");
  return replica;
}

describe.skipIf(unavailable !== null)("catalog reads from a streaming replica", () => {
  let pair: ReplicationPair;
  let app: TestApp;
  /** Talks to the replica directly: pause/resume replay, read what it holds. */
  let replicaSql: postgres.Sql;
  let store: StoreRef;
  let staff: TestStaff;
  let guest: TestGuest;
  let customer: TestCustomer;
  let productId: string;
  let variantId: string;
  let draftProductId: string;
  let api: ReturnType<typeof cartApi>;
  const opened: TestApp[] = [];

  /** postgres.js reads the server's types on a pool's first connection: one statement to keep out of the counts. */
  async function warmUp(target: TestApp): Promise<void> {
    const res = await ok<VariantData>(target, VARIANT, { id: variantId }, { store: store.handle });
    expect(replicaStatements(res)).toBeGreaterThan(0);
  }

  async function startApp(env: Record<string, string>): Promise<TestApp> {
    const started = await createTestApp({
      databaseUrl: pair.primary.url,
      env: { DATABASE_READ_URL: pair.replica.url, ...env },
    });
    opened.push(started);
    return started;
  }

  beforeAll(async () => {
    pair = await startReplicationPair();
    await runMigrations(pair.primary.url);
    app = await startApp({
      DATABASE_READ_MAX_LAG_MS: String(MAX_LAG_MS),
      DATABASE_READ_PROBE_MS: String(PROBE_MS),
    });
    replicaSql = postgres(pair.replica.url, { max: 1, onnotice: () => {} });
    store = await createStore(app);
    staff = await createStaff(app, store);
    guest = await createGuest(app, store);
    customer = await createCustomer(app, store);
    const created = await createProduct(app, store, { name: "Lamp", basePrice: 4200 });
    productId = created.product.id;
    variantId = created.variants[0]?.id ?? "";
    draftProductId = (await createProduct(app, store, { name: "Secret", status: "DRAFT" })).product.id;
    const ctx = serviceContext(store, fixtureStaff);
    await app.runtime.services.shipping.createMethod(ctx, { name: "Ground", countries: ["US"], rate: 700 });
    api = cartApi(app, store.handle);
    await pair.waitForCatchUp();
    await until("the replica to be usable", () => (replicaOf(app).health().usable ? true : undefined));
    await warmUp(app);
  }, 60_000);

  afterAll(async () => {
    // Everything this file started, even after a failure: apps, the direct connection, both servers.
    for (const started of opened) await started.close().catch(() => {});
    await replicaSql?.end({ timeout: 5 }).catch(() => {});
    await pair?.close();
  });

  it("answers anonymous, guest and customer catalog queries from the replica", async () => {
    for (const token of [undefined, guest.token, customer.token]) {
      const opts = { token, store: store.handle };
      const list = await ok<ProductsData>(app, PRODUCTS, {}, opts);
      expect(list.data.products.edges.map((e) => e.node.name)).toEqual(["Lamp"]);
      // the products page with their variants (one statement), on the replica
      expect(replicaStatements(list)).toBe(1);

      const search = await ok<ProductsData>(app, PRODUCTS, { query: "lam" }, opts);
      expect(search.data.products.edges).toHaveLength(1);
      expect(replicaStatements(search)).toBe(1);

      const product = await ok<{ product: { name: string } }>(app, PRODUCT, { id: productId }, opts);
      expect(product.data.product.name).toBe("Lamp");
      expect(replicaStatements(product)).toBe(2);

      const variant = await ok<VariantData>(app, VARIANT, { id: variantId }, opts);
      expect(variant.data.variant?.product.name).toBe("Lamp");
      expect(replicaStatements(variant)).toBe(2); // variant(id), then productById
    }
  });

  it("answers staff queries from the primary", async () => {
    const list = await ok<ProductsData>(app, PRODUCTS, {}, { token: staff.token, store: store.handle });
    expect(list.data.products.edges.map((e) => e.node.id)).toContain(draftProductId);
    expect(allStatements(list)).toBeGreaterThanOrEqual(2);
    expect(replicaStatements(list)).toBe(0);
  });

  it("runs mutations, and every read of their replies, on the primary", async () => {
    const created = await app.gql<{ cartCreate: { cart: { id: string } } }>(
      `mutation { cartCreate(input: { lines: [{ variantId: "${variantId}", quantity: 1 }] }) {
        cart { id lines { quantity variant { sku price { amount } product { name } } } } userErrors { code } } }`,
      {},
      { token: guest.token, store: store.handle },
    );
    expect(created.errors).toBeUndefined();
    expect(allStatements(created)).toBeGreaterThan(0);
    expect(replicaStatements(created)).toBe(0);
    const cartId = created.data?.cartCreate.cart.id ?? "";

    const added = await app.gql(
      `mutation A($cartId: ID!, $lines: [CartLineInput!]!) { cartLinesAdd(cartId: $cartId, lines: $lines) {
        cart { lines { quantity variant { sku product { name variants { sku } } } } } userErrors { code } } }`,
      { cartId, lines: [{ variantId, quantity: 2 }] },
      { token: guest.token, store: store.handle },
    );
    expect(added.errors).toBeUndefined();
    expect(replicaStatements(added)).toBe(0);

    const priced = await app.gql(
      `mutation U($id: ID!) { variantPriceUpdate(variantId: $id, price: 4200) {
        variant { price { amount } product { name variants { sku } } } userErrors { code } } }`,
      { id: variantId },
      { token: staff.token, store: store.handle },
    );
    expect(priced.errors).toBeUndefined();
    expect(replicaStatements(priced)).toBe(0);
  });

  it("reads a cart with its catalog rows from the primary, in one statement", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    const res = await ok<{ cart: { lines: { variant: { product: { name: string } } }[] } }>(
      app,
      `query C($id: ID!) { cart(id: $id) { id lines { quantity variant { sku product { name } } } } }`,
      { id: cart.id },
      { token: guest.token, store: store.handle },
    );
    expect(res.data.cart.lines[0]?.variant.product.name).toBe("Lamp");
    // The cart's snapshot carries its variants and products: nothing is left to ask the replica.
    expect(replicaStatements(res)).toBe(0);
    expect(Number(res.headers.get("x-sql-statements"))).toBe(1);

    const address = { firstName: "Ada", lastName: "L", line1: "1 Main St", city: "LA", region: "CA" };
    const addressed = await app.gql(
      `mutation A($cartId: ID!, $address: AddressInput!) {
        cartShippingAddressUpdate(cartId: $cartId, address: $address) { userErrors { code } } }`,
      { cartId: cart.id, address: { ...address, postalCode: "90001", country: "US" } },
      { token: guest.token, store: store.handle },
    );
    expect(addressed.errors).toBeUndefined();
    const rates = await ok<{ shippingRates: { shippingMethod: { name: string } }[] }>(
      app,
      `query R($cartId: ID!) { shippingRates(cartId: $cartId) { shippingMethod { name } price { amount } } }`,
      { cartId: cart.id },
      { token: guest.token, store: store.handle },
    );
    expect(rates.data.shippingRates.map((r) => r.shippingMethod.name)).toEqual(["Ground"]);
    expect(replicaStatements(rates)).toBe(1); // the method list; the cart and its pricing on the primary
  });

  it("does not mistake an idle primary for lag", async () => {
    // Nothing commits for longer than the bound: the replay timestamp ages past it, the WAL positions
    // stay equal, and the replica stays in use throughout.
    const idleUntil = Date.now() + MAX_LAG_MS + 500;
    while (Date.now() < idleUntil) {
      const health = replicaOf(app).health();
      expect(health.usable, JSON.stringify(health)).toBe(true);
      expect(health.lagMs).toBeLessThanOrEqual(2 * PROBE_MS);
      await sleep(PROBE_MS);
    }
    const [row] = await replicaSql<{ age_ms: number }[]>`
      select (extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 as age_ms`;
    expect(row?.age_ms).toBeGreaterThan(MAX_LAG_MS);
    expect(replicaOf(app).health()).toMatchObject({ up: true, usable: true, lagBytes: 0 });
  });

  it("moves shopper reads to the primary once the replica lags past the bound, and back", async () => {
    const shopper = { token: guest.token, store: store.handle };
    await replicaSql`select pg_wal_replay_pause()`;
    await until("replay to pause", async () => {
      const [row] = await replicaSql<{ state: string }[]>`select pg_get_wal_replay_pause_state() as state`;
      return row?.state === "paused" ? true : undefined;
    });
    try {
      const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
      const wroteAt = Date.now();
      const staffUpdate = await ok<{ variantPriceUpdate: { variant: { price: { amount: number } } } }>(
        app,
        `mutation U($id: ID!) { variantPriceUpdate(variantId: $id, price: 3900) { variant { price { amount } } userErrors { code } } }`,
        { id: variantId },
        { token: staff.token, store: store.handle },
      );
      expect(staffUpdate.data.variantPriceUpdate.variant.price.amount).toBe(3900);

      // Staff read their own write: the primary.
      const staffRead = await ok<VariantData>(
        app,
        VARIANT,
        { id: variantId },
        { token: staff.token, store: store.handle },
      );
      expect(staffRead.data.variant?.price.amount).toBe(3900);
      expect(replicaStatements(staffRead)).toBe(0);

      // A shopper, within the bound: the replica, which has not replayed the change.
      const early = await ok<VariantData>(app, VARIANT, { id: variantId }, shopper);
      expect(Date.now() - wroteAt).toBeLessThan(MAX_LAG_MS - 2 * PROBE_MS);
      expect(early.data.variant?.price.amount).toBe(4200);
      expect(replicaStatements(early)).toBe(2);

      // The cart, written after the pause, comes from the primary, its variants with it (one statement):
      // the cart's prices and its variants' prices cannot disagree.
      const line = await api.add(guest.token, cart.id, [{ variantId, quantity: 1 }]);
      expect(line.userErrors).toEqual([]);
      const cartRead = await ok<{
        cart: { lines: { quantity: number; variant: { price: { amount: number } } }[] };
      }>(
        app,
        `query C($id: ID!) { cart(id: $id) { lines { quantity variant { price { amount } } } } }`,
        { id: cart.id },
        shopper,
      );
      expect(cartRead.data.cart.lines.map((l) => l.quantity)).toEqual([2]);
      expect(cartRead.data.cart.lines[0]?.variant.price.amount).toBe(3900);
      expect(replicaStatements(cartRead)).toBe(0);

      // Past the bound: the primary answers, without any error, while the replica still lacks the change.
      const late = await until("shopper reads to move to the primary", async () => {
        const res = await ok<VariantData>(app, VARIANT, { id: variantId }, shopper);
        return res.data.variant?.price.amount === 3900 ? res : undefined;
      });
      const movedAfter = Date.now() - wroteAt;
      expect(movedAfter).toBeGreaterThanOrEqual(MAX_LAG_MS - 2 * PROBE_MS);
      expect(replicaStatements(late)).toBe(0);
      const [onReplica] = await replicaSql<{ price_override: number | null }[]>`
        select price_override from product_variants where id = ${variantId}`;
      expect(onReplica?.price_override).not.toBe(3900);

      const health = replicaOf(app).health();
      expect(health).toMatchObject({ up: true, usable: false, replayPaused: true });
      expect(health.lagBytes).toBeGreaterThan(0);
      expect((health.lagMs ?? 0) + (health.probeAgeMs ?? 0)).toBeGreaterThan(MAX_LAG_MS);
      const ready = await fetch(app.url.replace("/graphql", "/readyz"));
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: "ready", replica: { up: true, usable: false } });
      const metrics = await (await fetch(app.url.replace("/graphql", "/metrics"))).text();
      expect(metrics).toMatch(/^cartograph_db_replica_usable 0$/m);
      expect(metrics).toMatch(/^cartograph_db_replica_up 1$/m);
    } finally {
      await replicaSql`select pg_wal_replay_resume()`;
    }

    const back = await until("shopper reads to return to the replica", async () => {
      const res = await ok<VariantData>(app, VARIANT, { id: variantId }, shopper);
      return replicaStatements(res) > 0 ? res : undefined;
    });
    expect(back.data.variant?.price.amount).toBe(3900);
    expect(replicaOf(app).health()).toMatchObject({ up: true, usable: true, replayPaused: false });
  });

  it("answers from the primary a read that replay cancels on the replica, and keeps using the replica", async () => {
    await replicaSql`alter system set max_standby_streaming_delay = 0`;
    await replicaSql`select pg_reload_conf()`;
    const primarySql = postgres(pair.primary.url, { max: 1, onnotice: () => {} });
    try {
      await until("the replica to cancel conflicting queries at once", async () => {
        const [row] = await replicaSql<
          { delay: string }[]
        >`select current_setting('max_standby_streaming_delay') as delay`;
        return row?.delay === "0" ? true : undefined;
      });
      const reads = app.runtime.services.deps.reads;
      const before = replicaOf(app).health().fallbacks;
      // A slow read holds its snapshot on the replica while the primary vacuums rows it can see.
      const slowRead = reads.run("replica", (db) =>
        db.execute<{ slept: string; n: number }>(
          drizzleSql`select pg_sleep(1.5)::text as slept, count(*)::int as n from products`,
        ),
      );
      await sleep(300);
      await primarySql`update products set updated_at = updated_at`;
      await primarySql`vacuum products`;
      const rows = await slowRead;
      expect(rows[0]?.n).toBe(2);
      const health = replicaOf(app).health();
      expect(health.fallbacks).toBe(before + 1);
      expect(health).toMatchObject({ up: true, usable: true });
    } finally {
      await primarySql.end({ timeout: 5 });
      await replicaSql`alter system reset max_standby_streaming_delay`;
      await replicaSql`select pg_reload_conf()`;
    }
  });

  it("keeps answering without an error when the replica stops, and uses it again once it is back", async () => {
    // A second app that probes only at start-up: after the crash, only a failed read can tell it.
    const slowProbe = await startApp({ DATABASE_READ_MAX_LAG_MS: "120000", DATABASE_READ_PROBE_MS: "60000" });
    await warmUp(slowProbe);
    const shopper = { token: guest.token, store: store.handle };
    const warm = await ok<VariantData>(slowProbe, VARIANT, { id: variantId }, shopper);
    expect(replicaStatements(warm)).toBe(2);

    // Shoppers keep reading from the first app while the replica is stopped underneath them.
    let reading = true;
    const failures: unknown[] = [];
    let answered = 0;
    const readers = Array.from({ length: 4 }, async () => {
      while (reading) {
        const res = await app.gql<ProductsData>(PRODUCTS, {}, shopper).catch((e: unknown) => e);
        if (res instanceof Error || (res as GqlResponse).errors || (res as GqlResponse).status !== 200) {
          failures.push(res instanceof Error ? res.message : (res as GqlResponse).errors);
        } else answered++;
      }
    });
    await sleep(200);
    await pair.replica.crash();
    expect(await pair.replica.pid()).toBeNull();
    await sleep(500);

    const fallbacksBefore = replicaOf(slowProbe).health().fallbacks;
    const afterCrash = await ok<VariantData>(slowProbe, VARIANT, { id: variantId }, shopper);
    expect(afterCrash.data.variant?.price.amount).toBe(3900);
    const down = replicaOf(slowProbe).health();
    expect(down).toMatchObject({ up: false, usable: false });
    expect(down.fallbacks).toBeGreaterThan(fallbacksBefore);
    // Marked down: the next read goes straight to the primary, no second failed attempt.
    const next = await ok<VariantData>(slowProbe, VARIANT, { id: variantId }, shopper);
    expect(replicaStatements(next)).toBe(0);
    expect(replicaOf(slowProbe).health().fallbacks).toBe(down.fallbacks);

    reading = false;
    await Promise.all(readers);
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThan(10);
    expect(replicaOf(app).health()).toMatchObject({ up: false, usable: false });
    const ready = await fetch(app.url.replace("/graphql", "/readyz"));
    expect(ready.status).toBe(200);
    const readiness = (await ready.json()) as { status: string; replica: Record<string, unknown> };
    expect(readiness).toMatchObject({ status: "ready", replica: { up: false, usable: false } });
    expect(readiness.replica).not.toHaveProperty("error"); // the reason (with server addresses) is logged
    expect(replicaOf(app).health().error).toMatch(/ECONNREFUSED|CONNECTION|57P0|terminating/);

    await pair.replica.start();
    const back = await until("the first app to use the restarted replica", async () => {
      const res = await ok<VariantData>(app, VARIANT, { id: variantId }, shopper);
      return replicaStatements(res) > 0 ? res : undefined;
    });
    expect(back.data.variant?.price.amount).toBe(3900);
    // The slow prober stays off the replica until its next successful probe.
    expect(replicaOf(slowProbe).health().up).toBe(false);
    await replicaOf(slowProbe).probe();
    expect(replicaOf(slowProbe).health()).toMatchObject({ up: true, usable: true });
  });

  it("never reads from a DATABASE_READ_URL that is not a standby", async () => {
    const misconfigured = await createTestApp({
      databaseUrl: pair.primary.url,
      env: { DATABASE_READ_URL: pair.primary.url },
    });
    opened.push(misconfigured);
    const health = replicaOf(misconfigured).health();
    expect(health).toMatchObject({ up: false, usable: false });
    expect(health.error).toContain("not a standby");
    const res = await ok<VariantData>(misconfigured, VARIANT, { id: variantId }, { store: store.handle });
    expect(replicaStatements(res)).toBe(0);
  });
});
