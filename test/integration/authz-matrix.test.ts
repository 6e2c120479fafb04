/**
 * The authorisation and tenancy matrix: every query, mutation and subscription of the schema, run as
 * anonymous, guest, customer, staff, and another store's staff holding this store's ids, over HTTP and
 * over WebSocket, with the expected class of answer for each. It fails when an operation is added to
 * the schema without an entry here, so no operation ships without its rules being stated and tested.
 *
 * Classes: ALLOWED (did its work or refused for a business reason), UNAUTHENTICATED and FORBIDDEN (a
 * GraphQL auth error), NOT_FOUND (a foreign or not-yours id answers like an unknown one: null, empty, or
 * a NOT_FOUND userError — never the resource).
 */
import { randomUUID } from "node:crypto";
import { getNamedType, isObjectType } from "graphql";
import { beforeAll, describe, expect, it } from "vitest";
import { buildCartographSchema } from "../../src/schema/build.js";
import type { StoreRef } from "../../src/services/context.js";
import {
  checkout,
  productWithStock,
  readyCart,
  type ShopSetup,
  shop,
  US_ADDRESS,
} from "../support/checkout-fixtures.js";
import {
  createCustomer,
  createGuest,
  createStaff,
  createStore,
  fixtureStaff,
  serviceContext,
  type TestCustomer,
  type TestGuest,
  type TestStaff,
  unique,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";
import { openWs, type WsSession } from "../support/ws-client.js";

type Role = "anonymous" | "guest" | "customer" | "staff" | "otherStaff";
type Outcome = "ALLOWED" | "UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND";
const ROLES: Role[] = ["anonymous", "guest", "customer", "otherStaff", "staff"];

interface Ids {
  productId: string;
  variantId: string;
  guestCartId: string;
  guestLineId: string;
  checkoutCartId: string;
  customerCartId: string;
  customerLineId: string;
  savedItemId: string;
  orderId: string;
  discountId: string;
  discountCode: string;
  methodId: string;
}

interface Entry {
  kind: "object" | "list" | "connection" | "payload" | "subscription";
  /**
   * Payloads: the argument whose NOT_FOUND means "not yours" (default: any NOT_FOUND). A NOT_FOUND on
   * another field (a line that is not in the caller's own cart) is a business answer: ALLOWED.
   */
  owner?: string | null;
  doc: string;
  vars?: (ids: Ids) => Record<string, unknown>;
  expect: Record<Role, Outcome>;
}

const A = "ALLOWED" as const;
const U = "UNAUTHENTICATED" as const;
const F = "FORBIDDEN" as const;
const N = "NOT_FOUND" as const;
const row = (anonymous: Outcome, guest: Outcome, customer: Outcome, staff: Outcome, otherStaff: Outcome) => ({
  anonymous,
  guest,
  customer,
  staff,
  otherStaff,
});
const PUBLIC = row(A, A, A, A, A);
const STAFF_OF_STORE = row(F, F, F, A, A);
const STAFF_ON_OUR_IDS = row(F, F, F, A, N);
const GUEST_CART = row(U, A, N, F, F);
const CUSTOMER_ONLY = row(U, F, A, F, F);
const UE = "userErrors { code field }";

const MATRIX: Record<string, Entry> = {
  // ---- queries ----
  store: { kind: "object", doc: `{ store { id } }`, expect: PUBLIC },
  products: { kind: "connection", doc: `{ products(first: 2) { edges { node { id } } } }`, expect: PUBLIC },
  product: {
    kind: "object",
    doc: `query Q($id: ID!) { product(id: $id) { id } }`,
    vars: (i) => ({ id: i.productId }),
    expect: row(A, A, A, A, N),
  },
  variant: {
    kind: "object",
    doc: `query Q($id: ID!) { variant(id: $id) { id } }`,
    vars: (i) => ({ id: i.variantId }),
    expect: row(A, A, A, A, N),
  },
  cart: {
    kind: "object",
    doc: `query Q($id: ID!) { cart(id: $id) { id } }`,
    vars: (i) => ({ id: i.guestCartId }),
    expect: row(N, A, N, N, N),
  },
  myCart: { kind: "object", doc: `{ myCart { id } }`, expect: row(N, A, A, N, N) },
  savedItems: { kind: "list", doc: `{ savedItems { id } }`, expect: row(U, F, A, F, F) },
  me: { kind: "object", doc: `{ me { id } }`, expect: row(N, N, A, N, N) },
  order: {
    kind: "object",
    doc: `query Q($id: ID!) { order(id: $id) { id } }`,
    vars: (i) => ({ id: i.orderId }),
    expect: row(N, A, N, A, N),
  },
  myOrders: {
    kind: "connection",
    doc: `{ myOrders(first: 2) { edges { node { id } } } }`,
    expect: row(U, A, A, A, A),
  },
  orders: {
    kind: "connection",
    doc: `{ orders(first: 2) { edges { node { id } } } }`,
    expect: STAFF_OF_STORE,
  },
  discounts: {
    kind: "connection",
    doc: `{ discounts(first: 2) { edges { node { id } } } }`,
    expect: STAFF_OF_STORE,
  },
  shippingRates: {
    kind: "list",
    doc: `query Q($id: ID!) { shippingRates(cartId: $id) { price { amount } } }`,
    vars: (i) => ({ id: i.guestCartId }),
    expect: row(N, A, N, N, N),
  },
  // ---- mutations ----
  guestSessionCreate: {
    kind: "payload",
    doc: `mutation { guestSessionCreate { token ${UE} } }`,
    expect: PUBLIC,
  },
  customerRegister: {
    kind: "payload",
    doc: `mutation M($input: CustomerRegisterInput!) { customerRegister(input: $input) { token ${UE} } }`,
    vars: () => ({ input: { email: `m-${unique()}@test.example`, password: "long enough password" } }),
    expect: PUBLIC,
  },
  customerLogin: {
    kind: "payload",
    doc: `mutation { customerLogin(email: "nobody@test.example", password: "wrong password") { token ${UE} } }`,
    expect: PUBLIC,
  },
  staffLogin: {
    kind: "payload",
    doc: `mutation { staffLogin(email: "nobody@test.example", password: "wrong password") { token ${UE} } }`,
    expect: PUBLIC,
  },
  // A recovery link proves nothing about the caller; a bad one is a business answer (LINK_INVALID).
  cartRecover: {
    kind: "payload",
    doc: `mutation { cartRecover(token: "not-a-link") { token ${UE} } }`,
    expect: PUBLIC,
  },
  signOut: { kind: "payload", doc: `mutation { signOut { signedOut ${UE} } }`, expect: row(U, F, A, A, A) },
  cartCreate: {
    kind: "payload",
    doc: `mutation { cartCreate { cart { id } ${UE} } }`,
    expect: row(U, A, A, F, F),
  },
  cartLinesAdd: {
    kind: "payload",
    doc: `mutation M($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{ variantId: $v, quantity: 1 }]) { cart { id } ${UE} } }`,
    vars: (i) => ({ c: i.guestCartId, v: i.variantId }),
    expect: GUEST_CART,
  },
  cartLinesUpdate: {
    kind: "payload",
    doc: `mutation M($c: ID!, $l: ID!) { cartLinesUpdate(cartId: $c, lines: [{ lineId: $l, quantity: 2 }]) { cart { id } ${UE} } }`,
    vars: (i) => ({ c: i.guestCartId, l: i.guestLineId }),
    expect: GUEST_CART,
  },
  cartLinesRemove: {
    kind: "payload",
    owner: "cartId",
    doc: `mutation M($c: ID!) { cartLinesRemove(cartId: $c, lineIds: ["${randomUUID()}"]) { cart { id } ${UE} } }`,
    vars: (i) => ({ c: i.guestCartId }),
    expect: GUEST_CART,
  },
  cartEmailUpdate: {
    kind: "payload",
    doc: `mutation M($c: ID!) { cartEmailUpdate(cartId: $c, email: "x@test.example") { cart { id } ${UE} } }`,
    vars: (i) => ({ c: i.guestCartId }),
    expect: GUEST_CART,
  },
  cartShippingAddressUpdate: {
    kind: "payload",
    doc: `mutation M($c: ID!, $a: AddressInput!) { cartShippingAddressUpdate(cartId: $c, address: $a) { cart { id } ${UE} } }`,
    vars: (i) => ({ c: i.guestCartId, a: US_ADDRESS }),
    expect: GUEST_CART,
  },
  cartShippingMethodSelect: {
    kind: "payload",
    doc: `mutation M($c: ID!, $m: ID!) { cartShippingMethodSelect(cartId: $c, shippingMethodId: $m) { cart { id } ${UE} } }`,
    vars: (i) => ({ c: i.guestCartId, m: i.methodId }),
    expect: GUEST_CART,
  },
  cartDiscountCodeApply: {
    kind: "payload",
    doc: `mutation M($c: ID!, $code: String!) { cartDiscountCodeApply(cartId: $c, code: $code) { cart { id } ${UE} } }`,
    vars: (i) => ({ c: i.guestCartId, code: i.discountCode }),
    expect: GUEST_CART,
  },
  cartDiscountCodeRemove: {
    kind: "payload",
    doc: `mutation M($c: ID!, $code: String!) { cartDiscountCodeRemove(cartId: $c, code: $code) { cart { id } ${UE} } }`,
    vars: (i) => ({ c: i.guestCartId, code: i.discountCode }),
    expect: GUEST_CART,
  },
  cartLineSaveForLater: {
    kind: "payload",
    owner: "cartId",
    doc: `mutation M($c: ID!, $l: ID!) { cartLineSaveForLater(cartId: $c, lineId: $l) { cart { id } ${UE} } }`,
    vars: (i) => ({ c: i.customerCartId, l: i.customerLineId }),
    expect: CUSTOMER_ONLY,
  },
  savedItemMoveToCart: {
    kind: "payload",
    owner: "cartId",
    doc: `mutation M($s: ID!, $c: ID!) { savedItemMoveToCart(savedItemId: $s, cartId: $c) { cart { id } ${UE} } }`,
    vars: (i) => ({ s: i.savedItemId, c: i.customerCartId }),
    expect: CUSTOMER_ONLY,
  },
  savedItemRemove: {
    kind: "payload",
    owner: null,
    doc: `mutation M($s: ID!) { savedItemRemove(savedItemId: $s) { savedItems { id } ${UE} } }`,
    vars: (i) => ({ s: i.savedItemId }),
    expect: CUSTOMER_ONLY,
  },
  checkoutComplete: {
    kind: "payload",
    doc: `mutation M($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id } ${UE} } }`,
    vars: (i) => ({
      input: {
        cartId: i.checkoutCartId,
        idempotencyKey: `matrix-${unique()}-k`,
        paymentMethod: "pm_card_visa",
      },
    }),
    expect: GUEST_CART,
  },
  orderCancel: {
    kind: "payload",
    doc: `mutation M($o: ID!) { orderCancel(orderId: $o) { order { id } ${UE} } }`,
    vars: (i) => ({ o: i.orderId }),
    expect: row(N, A, N, A, N),
  },
  orderTransition: {
    kind: "payload",
    doc: `mutation M($o: ID!) { orderTransition(orderId: $o, to: PROCESSING) { order { id } ${UE} } }`,
    vars: (i) => ({ o: i.orderId }),
    expect: STAFF_ON_OUR_IDS,
  },
  orderRefund: {
    kind: "payload",
    doc: `mutation M($o: ID!) { orderRefund(orderId: $o, amount: 1) { order { id } ${UE} } }`,
    vars: (i) => ({ o: i.orderId }),
    expect: STAFF_ON_OUR_IDS,
  },
  orderReviewApprove: {
    kind: "payload",
    doc: `mutation M($o: ID!) { orderReviewApprove(orderId: $o) { order { id } ${UE} } }`,
    vars: (i) => ({ o: i.orderId }),
    expect: STAFF_ON_OUR_IDS,
  },
  orderReviewReject: {
    kind: "payload",
    doc: `mutation M($o: ID!) { orderReviewReject(orderId: $o) { order { id } ${UE} } }`,
    vars: (i) => ({ o: i.orderId }),
    expect: STAFF_ON_OUR_IDS,
  },
  productCreate: {
    kind: "payload",
    doc: `mutation { productCreate(input: { name: "M", basePrice: 100, variants: [{ sku: "M-${unique()}", title: "T" }] }) { product { id } ${UE} } }`,
    expect: STAFF_OF_STORE,
  },
  variantPriceUpdate: {
    kind: "payload",
    doc: `mutation M($v: ID!) { variantPriceUpdate(variantId: $v, price: 1200) { variant { id } ${UE} } }`,
    vars: (i) => ({ v: i.variantId }),
    expect: STAFF_ON_OUR_IDS,
  },
  inventoryAdjust: {
    kind: "payload",
    doc: `mutation M($v: ID!) { inventoryAdjust(variantId: $v, delta: 1) { variant { id } ${UE} } }`,
    vars: (i) => ({ v: i.variantId }),
    expect: STAFF_ON_OUR_IDS,
  },
  discountCreate: {
    kind: "payload",
    doc: `mutation M($code: String!) { discountCreate(input: { code: $code, type: PERCENTAGE, value: 5 }) { discount { id } ${UE} } }`,
    vars: () => ({ code: `MX${unique()}`.toUpperCase() }),
    expect: STAFF_OF_STORE,
  },
  discountUpdate: {
    kind: "payload",
    doc: `mutation M($id: ID!, $code: String!) { discountUpdate(id: $id, input: { code: $code, type: PERCENTAGE, value: 7 }) { discount { id } ${UE} } }`,
    vars: (i) => ({ id: i.discountId, code: i.discountCode }),
    expect: STAFF_ON_OUR_IDS,
  },
  shippingMethodCreate: {
    kind: "payload",
    doc: `mutation { shippingMethodCreate(input: { name: "M", countries: ["US"], rate: 100 }) { shippingMethod { id } ${UE} } }`,
    expect: STAFF_OF_STORE,
  },
  taxRateUpsert: {
    kind: "payload",
    doc: `mutation { taxRateUpsert(input: { country: "US", region: "NY", rateBps: 400 }) { taxRate { id } ${UE} } }`,
    expect: STAFF_OF_STORE,
  },
  storeSettingsUpdate: {
    kind: "payload",
    doc: `mutation { storeSettingsUpdate(input: { cartHoldMinutes: 15 }) { store { id } ${UE} } }`,
    expect: STAFF_OF_STORE,
  },
  // ---- subscriptions ----
  cartPriceChanged: {
    kind: "subscription",
    doc: `subscription S($c: ID!) { cartPriceChanged(cartId: $c) { cartId } }`,
    vars: (i) => ({ c: i.guestCartId }),
    expect: row(N, A, N, N, N),
  },
  orderStatusChanged: {
    kind: "subscription",
    doc: `subscription S($o: ID) { orderStatusChanged(orderId: $o) { to } }`,
    vars: (i) => ({ o: i.orderId }),
    expect: row(F, A, F, A, F),
  },
  storeEvents: { kind: "subscription", doc: `subscription { storeEvents { type } }`, expect: STAFF_OF_STORE },
  lowStockAlerts: {
    kind: "subscription",
    doc: `subscription { lowStockAlerts { to } }`,
    expect: STAFF_OF_STORE,
  },
};

const NOT_FOUND_CODES = new Set(["NOT_FOUND", "DISCOUNT_NOT_FOUND"]);

interface Answer {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

function classify(entry: Entry, field: string, answer: Answer): Outcome | string {
  const code = answer.errors?.[0]?.extensions?.code;
  if (code === "UNAUTHENTICATED" || code === "FORBIDDEN" || code === "NOT_FOUND") return code;
  if (answer.errors?.length) return `ERROR ${String(code)}: ${answer.errors[0]?.message}`;
  const value = answer.data?.[field];
  switch (entry.kind) {
    case "object":
      return value ? A : N;
    case "list":
      return Array.isArray(value) && value.length > 0 ? A : N;
    case "connection":
      return A;
    default: {
      const errors =
        (value as { userErrors?: { code: string; field: string[] | null }[] } | null)?.userErrors ?? [];
      const notYours = errors.some(
        (e) =>
          NOT_FOUND_CODES.has(e.code) &&
          entry.owner !== null &&
          (entry.owner === undefined || e.field?.at(-1) === entry.owner),
      );
      return notYours ? N : A;
    }
  }
}

const t = useTestApp();
let store: StoreRef;
let other: StoreRef;
let setup: ShopSetup;
let ids: Ids;
const tokens: Partial<Record<Role, string>> = {};

async function prepare(): Promise<void> {
  store = await createStore(t.app);
  other = await createStore(t.app);
  setup = await shop(t.app, store, { taxBps: 0 });
  const staff: TestStaff = await createStaff(t.app, store);
  const otherStaff: TestStaff = await createStaff(t.app, other);
  const guest: TestGuest = await createGuest(t.app, store);
  const customer: TestCustomer = await createCustomer(t.app, store);
  tokens.guest = guest.token;
  tokens.customer = customer.token;
  tokens.staff = staff.token;
  tokens.otherStaff = otherStaff.token;
  const p = await productWithStock(t.app, store, 1000);
  const services = t.app.runtime.services;
  const guestReady = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }], { guest });
  const guestCart = await services.carts.get(serviceContext(store, guest.caller), guestReady.cartId);
  const checkoutReady = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }], { guest });
  const paid = await readyCart(t.app, setup, [{ variantId: p.variantId, quantity: 1 }], { guest });
  const order = await checkout(t.app, store, guest.token, { cartId: paid.cartId });
  const customerCtx = serviceContext(store, customer.caller);
  const customerCart = await services.carts.create(customerCtx, {
    lines: [
      { variantId: p.variantId, quantity: 1 },
      { variantId: p.variantId, quantity: 1, customOptions: { giftWrap: true } },
    ],
  });
  const saved = await services.savedItems.saveLine(customerCtx, customerCart.id, customerCart.lines[1]!.id);
  const savedItems = await services.savedItems.list(customerCtx);
  const code = `MATRIX${unique()}`.toUpperCase();
  const discount = await services.discounts.create(serviceContext(store, fixtureStaff), {
    code,
    type: "PERCENTAGE",
    value: 5,
  });
  ids = {
    productId: p.product.id,
    variantId: p.variantId,
    guestCartId: guestReady.cartId,
    guestLineId: guestCart!.lines[0]!.id,
    checkoutCartId: checkoutReady.cartId,
    customerCartId: customerCart.id,
    customerLineId: saved.lines[0]!.id,
    savedItemId: savedItems[0]!.id,
    orderId: order.order!.id,
    discountId: discount.id,
    discountCode: code,
    methodId: setup.methodId,
  };
}

function handleOf(role: Role): string {
  return role === "otherStaff" ? other.handle : store.handle;
}

async function overHttp(role: Role, entry: Entry): Promise<Answer> {
  const res = await t.app.gql(entry.doc, entry.vars?.(ids) ?? {}, {
    store: handleOf(role),
    token: tokens[role],
  });
  return { data: res.data as Record<string, unknown> | null, errors: res.errors };
}

async function overWs(session: WsSession, entry: Entry): Promise<Answer> {
  if (entry.kind !== "subscription") return (await session.request(entry.doc, entry.vars?.(ids))) as Answer;
  const sub = session.subscribe(entry.doc, entry.vars?.(ids));
  await Promise.race([sub.ended, new Promise((r) => setTimeout(r, 400))]);
  sub.stop();
  const first = sub.events[0];
  return first ? (first as Answer) : { data: {} };
}

beforeAll(prepare);

describe("the authorisation and tenancy matrix", () => {
  it("has an entry for every operation of the schema, and none for operations that do not exist", async () => {
    const schema = await buildCartographSchema();
    const fields = ["Query", "Mutation", "Subscription"].flatMap((name) => {
      const type = schema.getType(name);
      return type && isObjectType(type) ? Object.keys(type.getFields()) : [];
    });
    expect(fields.filter((f) => !MATRIX[f]).sort()).toEqual([]);
    expect(
      Object.keys(MATRIX)
        .filter((f) => !fields.includes(f))
        .sort(),
    ).toEqual([]);
    expect(getNamedType(schema.getQueryType()!)).toBeTruthy();
  });

  it("answers every operation as its rules say, over HTTP", async () => {
    const wrong: string[] = [];
    for (const role of ROLES) {
      for (const [field, entry] of Object.entries(MATRIX)) {
        if (field === "signOut") continue; // ends the role's tokens: checked last, below
        const answer = await overHttp(role, entry);
        const got =
          entry.kind === "subscription"
            ? answer.errors?.[0]?.extensions?.code === "SUBSCRIPTION_REQUIRES_WEBSOCKET"
              ? entry.expect[role]
              : `not refused over HTTP: ${JSON.stringify(answer)}`
            : classify(entry, field, answer);
        if (got !== entry.expect[role])
          wrong.push(`HTTP ${field} as ${role}: expected ${entry.expect[role]}, got ${got}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("answers every operation as its rules say, over WebSocket", async () => {
    const wrong: string[] = [];
    for (const role of ROLES) {
      const session = await openWs(t.app.wsUrl, { store: handleOf(role), token: tokens[role] });
      try {
        for (const [field, entry] of Object.entries(MATRIX)) {
          if (field === "signOut") continue;
          const got = classify(
            entry.kind === "subscription" ? { ...entry, kind: "connection" } : entry,
            field,
            await overWs(session, entry),
          );
          if (got !== entry.expect[role])
            wrong.push(`WS ${field} as ${role}: expected ${entry.expect[role]}, got ${got}`);
        }
      } finally {
        await session.close();
      }
    }
    expect(wrong).toEqual([]);
  });

  it("signs out as its rules say, on both transports (last: it ends the role's tokens)", async () => {
    const entry = MATRIX.signOut as Entry;
    const wrong: string[] = [];
    for (const role of ROLES) {
      const got = classify(entry, "signOut", await overHttp(role, entry));
      if (got !== entry.expect[role])
        wrong.push(`HTTP signOut as ${role}: expected ${entry.expect[role]}, got ${got}`);
    }
    // Fresh accounts for the WebSocket run: the HTTP run ended the first ones.
    tokens.customer = (await createCustomer(t.app, store)).token;
    tokens.staff = (await createStaff(t.app, store)).token;
    tokens.otherStaff = (await createStaff(t.app, other)).token;
    for (const role of ROLES) {
      const session = await openWs(t.app.wsUrl, { store: handleOf(role), token: tokens[role] });
      const got = classify(entry, "signOut", await overWs(session, entry));
      await session.close();
      if (got !== entry.expect[role])
        wrong.push(`WS signOut as ${role}: expected ${entry.expect[role]}, got ${got}`);
    }
    expect(wrong).toEqual([]);
  });
});
