/**
 * SQL statement budgets of the hot operations, through the real HTTP path (BEGIN and COMMIT count).
 * The figures are what the request path costs once the store and the caller's token are cached; a
 * change that adds a statement to one of these paths fails here, with the statements it sent.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { StoreRef } from "../../src/services/context.js";
import { readyCart, type ShopSetup, shop, US_ADDRESS } from "../support/checkout-fixtures.js";
import { createGuest, createProduct, createStore, type TestGuest } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();

let store: StoreRef;
let setup: ShopSetup;
let guest: TestGuest;
let variants: string[];

// Money is asked with `formatted` too: the store's locale comes with the request, so it costs no statement.
const CART_REPLY = `cart { id version: updatedAt itemCount
  lines { id quantity unitPrice { amount formatted } currentUnitPrice { amount } tax { amount formatted }
    total { amount formatted } variant { id sku } }
  cost { subtotal { amount } discount { amount } shipping { amount } tax { amount } total { amount formatted } }
  warnings { code } discountCodes { code applicable } }
  userErrors { code message }`;

const ADD = `mutation A($cartId: ID!, $variantId: ID!, $quantity: Int!) {
  cartLinesAdd(cartId: $cartId, lines: [{ variantId: $variantId, quantity: $quantity }]) { ${CART_REPLY} } }`;
const UPDATE = `mutation U($cartId: ID!, $lineId: ID!, $quantity: Int!) {
  cartLinesUpdate(cartId: $cartId, lines: [{ lineId: $lineId, quantity: $quantity }]) { ${CART_REPLY} } }`;
const REMOVE = `mutation R($cartId: ID!, $lineId: ID!) {
  cartLinesRemove(cartId: $cartId, lineIds: [$lineId]) { ${CART_REPLY} } }`;
const READ = `query C($id: ID!) { cart(id: $id) {
  id itemCount lines { id quantity unitPrice { amount formatted } currentUnitPrice { amount } tax { formatted }
    total { amount } variant { id sku product { id name } } }
  cost { subtotal { amount } total { amount formatted } } warnings { code message } } }`;
const PRODUCTS = `query P($first: Int) { products(first: $first) { edges { node {
  id name priceRange { min { amount formatted } max { amount } }
  variants { id sku price { amount formatted } inStock } } } } }`;
const ORDER = `query O($id: ID!) { order(id: $id) {
  id number status paymentStatus cost { total { amount } }
  lines { sku quantity total { amount } } history { from to } payments { status } } }`;

interface Measured<T> {
  data: T;
  statements: number;
  log: string[];
}

async function measure<T>(
  query: string,
  variables: Record<string, unknown>,
  token?: string,
): Promise<Measured<T>> {
  const res = await t.app.gql<T>(query, variables, {
    token,
    store: store.handle,
    headers: { "x-sql-log": "1" },
  });
  expect(res.errors).toBeUndefined();
  return {
    data: res.data as T,
    statements: Number(res.headers.get("x-sql-statements")),
    log: JSON.parse(res.headers.get("x-sql-log") ?? "[]") as string[],
  };
}

/** An optimistic cart write: read the cart, apply the change if its version has not moved. */
const CART_WRITE = 2;

/** Fails with the statements that were sent, so the regression is visible in CI's output. */
function withinBudget(m: Measured<unknown>, budget: number): void {
  expect(m.statements, `statements sent:\n${m.log.join("\n")}`).toBeLessThanOrEqual(budget);
}

interface CartPayload {
  cart: { id: string; itemCount: number; lines: { id: string; quantity: number }[] } | null;
  userErrors: { code: string }[];
}

beforeAll(async () => {
  store = await createStore(t.app);
  setup = await shop(t.app, store);
  guest = await createGuest(t.app, store);
  const product = await createProduct(t.app, store, {
    variants: Array.from({ length: 25 }, () => ({ stockOnHand: 500 })),
  });
  variants = product.variants.map((v) => v.id);
  // Warm the store and token caches: the budgets are for the steady state.
  await measure(PRODUCTS, { first: 1 });
  await measure(PRODUCTS, { first: 1 }, guest.token);
});

async function newCart(lines: number): Promise<string> {
  const cart = await t.app.runtime.services.carts.create(
    { store, caller: guest.caller, requestId: "budget" },
    { lines: variants.slice(0, lines).map((variantId) => ({ variantId, quantity: 1 })) },
  );
  return cart.id;
}

describe("statement budgets of the hot paths", () => {
  it("cartLinesAdd: a new line, and more of a line already there", async () => {
    const cartId = await newCart(3);
    const added = await measure<{ cartLinesAdd: CartPayload }>(
      ADD,
      { cartId, variantId: variants[5], quantity: 2 },
      guest.token,
    );
    expect(added.data.cartLinesAdd.userErrors).toEqual([]);
    expect(added.data.cartLinesAdd.cart?.itemCount).toBe(5);
    withinBudget(added, CART_WRITE);
    const more = await measure<{ cartLinesAdd: CartPayload }>(
      ADD,
      { cartId, variantId: variants[5], quantity: 1 },
      guest.token,
    );
    expect(more.data.cartLinesAdd.cart?.itemCount).toBe(6);
    withinBudget(more, CART_WRITE);
  });

  it("cartLinesUpdate and cartLinesRemove", async () => {
    const cartId = await newCart(4);
    const cart = await t.app.runtime.services.carts.get(
      { store, caller: guest.caller, requestId: "budget" },
      cartId,
    );
    const lineId = cart!.lines[1]!.id;
    const updated = await measure<{ cartLinesUpdate: CartPayload }>(
      UPDATE,
      { cartId, lineId, quantity: 3 },
      guest.token,
    );
    expect(updated.data.cartLinesUpdate.cart?.itemCount).toBe(6);
    withinBudget(updated, CART_WRITE);
    const removed = await measure<{ cartLinesRemove: CartPayload }>(REMOVE, { cartId, lineId }, guest.token);
    expect(removed.data.cartLinesRemove.cart?.itemCount).toBe(3);
    withinBudget(removed, CART_WRITE);
  });

  it("cartCreate of an empty cart: the row inserted is the reply", async () => {
    const created = await measure<{ cartCreate: CartPayload }>(
      `mutation C { cartCreate { ${CART_REPLY} } }`,
      {},
      guest.token,
    );
    expect(created.data.cartCreate.cart?.itemCount).toBe(0);
    // BEGIN, insert, COMMIT (the test app counts no open carts per guest; with the limit on, its lock
    // and count add two).
    withinBudget(created, 3);
  });

  it("the rest of a shopper's way to checkout", async () => {
    const created = await measure<{ cartCreate: CartPayload }>(
      `mutation C($lines: [CartLineInput!]) { cartCreate(input: { lines: $lines }) { ${CART_REPLY} } }`,
      { lines: [{ variantId: variants[0], quantity: 1 }] },
      guest.token,
    );
    const cartId = created.data.cartCreate.cart?.id as string;
    // One transaction, so that lines refused leave no cart behind: BEGIN, insert the cart, lock and
    // read it, apply the lines, COMMIT.
    withinBudget(created, 5);
    const email = await measure<{ cartEmailUpdate: CartPayload }>(
      `mutation E($cartId: ID!) { cartEmailUpdate(cartId: $cartId, email: "budget@example.com") { ${CART_REPLY} } }`,
      { cartId },
      guest.token,
    );
    withinBudget(email, CART_WRITE);
    const address = await measure<{ cartShippingAddressUpdate: CartPayload }>(
      `mutation A($cartId: ID!, $address: AddressInput!) { cartShippingAddressUpdate(cartId: $cartId, address: $address) { ${CART_REPLY} } }`,
      { cartId, address: { ...US_ADDRESS } },
      guest.token,
    );
    // The new destination's tax rates are read for the reply.
    withinBudget(address, CART_WRITE + 1);
    const rates = await measure<{ shippingRates: unknown[] }>(
      `query R($cartId: ID!) { shippingRates(cartId: $cartId) { price { amount } shippingMethod { id name } } }`,
      { cartId },
      guest.token,
    );
    expect(rates.data.shippingRates).toHaveLength(1);
    // The cart, then the store's methods.
    withinBudget(rates, 2);
    const method = await measure<{ cartShippingMethodSelect: CartPayload }>(
      `mutation M($cartId: ID!, $methodId: ID!) { cartShippingMethodSelect(cartId: $cartId, shippingMethodId: $methodId) { ${CART_REPLY} } }`,
      { cartId, methodId: setup.methodId },
      guest.token,
    );
    expect(method.data.cartShippingMethodSelect.userErrors).toEqual([]);
    // The chosen method is read to check it serves the address.
    withinBudget(method, CART_WRITE + 1);
  });

  it("cart read of 20 lines, with variants and their products", async () => {
    const cartId = await newCart(20);
    const cached = await measure<{
      cart: { itemCount: number; cost: { total: { amount: number; formatted: string } } };
    }>(READ, { id: cartId }, guest.token);
    expect(cached.data.cart.itemCount).toBe(20);
    const { total } = cached.data.cart.cost;
    expect(total.formatted).toBe(
      `$${(total.amount / 100).toLocaleString("en-US", { minimumFractionDigits: 2 })}`,
    );
    withinBudget(cached, 1);
  });

  it("products page of 20", async () => {
    for (let i = 0; i < 20; i++) await createProduct(t.app, store, { variants: [{}, {}] });
    const page = await measure<{ products: { edges: unknown[] } }>(PRODUCTS, { first: 20 });
    expect(page.data.products.edges).toHaveLength(20);
    // The page with each product's variants, in one statement.
    withinBudget(page, 1);
  });

  it("checkoutComplete of a 3-line cart, and reading the order", async () => {
    const buyer = await createGuest(t.app, store);
    await measure(PRODUCTS, { first: 1 }, buyer.token);
    const ready = await readyCart(
      t.app,
      setup,
      variants.slice(0, 3).map((variantId) => ({ variantId, quantity: 1 })),
      { guest: buyer },
    );
    const res = await t.app.gql<{ checkoutComplete: { order: { id: string } | null } }>(
      `mutation C($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id number status } userErrors { code message } } }`,
      {
        input: {
          cartId: ready.cartId,
          idempotencyKey: `budget-${ready.cartId}`,
          paymentMethod: "pm_card_visa",
        },
      },
      { token: buyer.token, store: store.handle, headers: { "x-sql-log": "1" } },
    );
    expect(res.errors).toBeUndefined();
    const orderId = res.data?.checkoutComplete.order?.id;
    expect(orderId).toBeTruthy();
    // Gate read; T1: BEGIN, lock+read the cart (and draw the order's number), lock its variants, the order
    // with everything else, COMMIT;
    // authorised (one statement); T2: BEGIN, the move with its reservations flipped to sold (no variant
    // row: the units leave the counters at settlement) in one statement, the rest, COMMIT.
    withinBudget(
      {
        data: res.data,
        statements: Number(res.headers.get("x-sql-statements")),
        log: JSON.parse(res.headers.get("x-sql-log") ?? "[]") as string[],
      },
      11,
    );
    const order = await measure<{ order: { id: string } }>(ORDER, { id: orderId }, buyer.token);
    expect(order.data.order.id).toBe(orderId);
    // The order, then its lines, history and payments (each one statement for a whole page of orders).
    withinBudget(order, 4);
  });
});
