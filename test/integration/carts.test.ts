import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { cartItems, carts, productVariants } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { type CartShape, cartApi, okCart } from "../support/cart-api.js";
import {
  createCustomer,
  createGuest,
  createProduct,
  createStaff,
  createStore,
  type TestGuest,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();

let store: StoreRef;
let other: StoreRef;
let api: ReturnType<typeof cartApi>;
let guest: TestGuest;
let shirt: { id: string; sku: string }; // 1500, stock 100
let mug: { id: string; sku: string }; // base 800, stock 5
let draftVariant: string;
let foreignVariant: string;

beforeAll(async () => {
  store = await createStore(t.app);
  other = await createStore(t.app);
  api = cartApi(t.app, store.handle);
  guest = await createGuest(t.app, store);
  const p1 = await createProduct(t.app, store, {
    basePrice: 1000,
    variants: [{ price: 1500, stockOnHand: 100 }],
  });
  const p2 = await createProduct(t.app, store, { basePrice: 800, variants: [{ stockOnHand: 5 }] });
  const draft = await createProduct(t.app, store, { status: "DRAFT", variants: [{ stockOnHand: 5 }] });
  const foreign = await createProduct(t.app, other, { variants: [{ stockOnHand: 5 }] });
  shirt = { id: p1.variants[0]!.id, sku: p1.variants[0]!.sku };
  mug = { id: p2.variants[0]!.id, sku: p2.variants[0]!.sku };
  draftVariant = draft.variants[0]!.id;
  foreignVariant = foreign.variants[0]!.id;
});

async function newCart(token = guest.token): Promise<CartShape> {
  return okCart(await api.create(token));
}

async function cartRowCount(): Promise<number> {
  const [row] = await t.app.runtime.database.db.select({ n: sql<number>`count(*)::int` }).from(cartItems);
  return row?.n ?? 0;
}

describe("creating and reading carts", () => {
  it("creates a guest cart, optionally with lines, priced at the captured price", async () => {
    const cart = okCart(
      await api.create(guest.token, {
        lines: [{ variantId: shirt.id, quantity: 2 }],
        email: "A@Example.com",
      }),
    );
    expect(cart).toMatchObject({
      status: "ACTIVE",
      currencyCode: "USD",
      email: "a@example.com",
      itemCount: 2,
    });
    expect(cart.lines[0]).toMatchObject({
      quantity: 2,
      unitPrice: { amount: 1500, currencyCode: "USD" },
      currentUnitPrice: { amount: 1500 },
      priceChanged: false,
      total: { amount: 3000 },
      variant: { id: shirt.id, sku: shirt.sku },
    });
    expect(cart.cost).toEqual({
      subtotal: { amount: 3000 },
      discount: { amount: 0 },
      shipping: { amount: 0 },
      tax: { amount: 0 },
      total: { amount: 3000 },
    });
    expect(cart.expiresAt).not.toBeNull();
    expect(await api.get(guest.token, cart.id)).toMatchObject({ id: cart.id, itemCount: 2 });
    expect((await api.mine(guest.token))?.id).toBeDefined();
  });

  it("needs a guest session or a customer: anonymous callers get UNAUTHENTICATED, staff FORBIDDEN", async () => {
    const anon = await t.app.gql(
      "mutation { cartCreate { cart { id } userErrors { code } } }",
      {},
      { store: store.handle },
    );
    expect(anon.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const staff = await createStaff(t.app, store);
    const asStaff = await t.app.gql(
      "mutation { cartCreate { cart { id } } }",
      {},
      { store: store.handle, token: staff.token },
    );
    expect(asStaff.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });

  it("keeps one open cart per customer: creating again returns it, even under a race", async () => {
    const customer = await createCustomer(t.app, store);
    const results = await Promise.all(Array.from({ length: 8 }, () => api.create(customer.token)));
    const ids = new Set(results.map((r) => okCart(r).id));
    expect(ids.size).toBe(1);
    const [row] = await t.app.runtime.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(carts)
      .where(eq(carts.customerId, customer.id));
    expect(row?.n).toBe(1);
  });

  it("shows a cart only to its owner: other guests, customers, other stores and bad ids see null", async () => {
    const cart = await newCart();
    const stranger = await createGuest(t.app, store);
    const customer = await createCustomer(t.app, store);
    expect(await api.get(stranger.token, cart.id)).toBeNull();
    expect(await api.get(customer.token, cart.id)).toBeNull();
    expect(await api.get(undefined, cart.id)).toBeNull();
    expect(await api.get(guest.token, "not-a-uuid")).toBeNull();
    expect(await api.get(guest.token, "00000000-0000-4000-8000-000000000000")).toBeNull();
    const otherGuest = await createGuest(t.app, other);
    const crossStore = await t.app.gql(
      `query { cart(id: "${cart.id}") { id } }`,
      {},
      { store: other.handle, token: otherGuest.token },
    );
    expect(crossStore.data).toEqual({ cart: null });
    // Writes by a stranger are NOT_FOUND too, and change nothing.
    const attempt = await api.add(stranger.token, cart.id, [{ variantId: shirt.id, quantity: 1 }]);
    expect(attempt.userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    expect((await api.get(guest.token, cart.id))?.itemCount).toBe(0);
  });
});

describe("adding lines", () => {
  it("sums quantities of the same variant + options, and keys different options apart", async () => {
    const cart = await newCart();
    await api.add(guest.token, cart.id, [{ variantId: shirt.id, quantity: 1 }]);
    await api.add(guest.token, cart.id, [{ variantId: shirt.id, quantity: 2 }]);
    const withOptions = okCart(
      await api.add(guest.token, cart.id, [
        {
          variantId: shirt.id,
          quantity: 1,
          customOptions: { giftWrap: true, personalization: "  For Sam " },
        },
        { variantId: shirt.id, quantity: 1, customOptions: { personalization: "For Sam", giftWrap: true } },
        { variantId: shirt.id, quantity: 1, customOptions: { giftWrap: false } },
      ]),
    );
    expect(withOptions.lines).toHaveLength(2);
    const plain = withOptions.lines.find((l) => l.customOptions === null);
    const wrapped = withOptions.lines.find((l) => l.customOptions !== null);
    expect(plain?.quantity).toBe(4);
    expect(wrapped).toMatchObject({
      quantity: 2,
      customOptions: { giftWrap: true, personalization: "For Sam" },
    });
  });

  it("rejects bad input with a userError per line and writes nothing", async () => {
    const cart = await newCart();
    const before = await cartRowCount();
    const cases: [Parameters<typeof api.add>[2], string, string[]][] = [
      [[{ variantId: shirt.id, quantity: 0 }], "INVALID_INPUT", ["lines", "0", "quantity"]],
      [[{ variantId: shirt.id, quantity: -3 }], "INVALID_INPUT", ["lines", "0", "quantity"]],
      [[{ variantId: shirt.id, quantity: 1000 }], "INVALID_INPUT", ["lines", "0", "quantity"]],
      [[{ variantId: "nope", quantity: 1 }], "NOT_FOUND", ["lines", "0", "variantId"]],
      [[{ variantId: foreignVariant, quantity: 1 }], "NOT_FOUND", ["lines", "0", "variantId"]],
      [[{ variantId: draftVariant, quantity: 1 }], "VARIANT_UNAVAILABLE", ["lines", "0", "variantId"]],
      [
        [{ variantId: shirt.id, quantity: 1, customOptions: { personalization: "x".repeat(201) } }],
        "INVALID_INPUT",
        ["lines", "0", "customOptions", "personalization"],
      ],
    ];
    for (const [lines, code, field] of cases) {
      const res = await api.add(guest.token, cart.id, lines);
      expect(res.cart).toBeNull();
      expect(res.userErrors).toEqual([expect.objectContaining({ code, field })]);
    }
    // A good line next to a bad one: both are reported atomically, nothing is added.
    const mixed = await api.add(guest.token, cart.id, [
      { variantId: shirt.id, quantity: 1 },
      { variantId: mug.id, quantity: 0 },
    ]);
    expect(mixed.userErrors.map((e) => e.field)).toEqual([["lines", "1", "quantity"]]);
    expect(await cartRowCount()).toBe(before);
    // Non-integers and unknown option keys never reach the service: GraphQL rejects them.
    const float = await t.app.gql(
      `mutation { cartLinesAdd(cartId: "${cart.id}", lines: [{ variantId: "${shirt.id}", quantity: 1.5 }]) { cart { id } } }`,
      {},
      { token: guest.token, store: store.handle },
    );
    expect(float.errors?.[0]?.extensions?.code).toMatch(/GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT/);
    const unknownOption = await t.app.gql(
      `mutation { cartLinesAdd(cartId: "${cart.id}", lines: [{ variantId: "${shirt.id}", quantity: 1, customOptions: { engraving: "x" } }]) { cart { id } } }`,
      {},
      { token: guest.token, store: store.handle },
    );
    expect(unknownOption.errors?.length).toBeGreaterThan(0);
  });

  it("checks available stock (on hand minus reserved) across option lines", async () => {
    const cart = await newCart();
    okCart(await api.add(guest.token, cart.id, [{ variantId: mug.id, quantity: 3 }]));
    await t.app.runtime.database.db
      .update(productVariants)
      .set({ reserved: 1 })
      .where(eq(productVariants.id, mug.id));
    try {
      const res = await api.add(guest.token, cart.id, [
        { variantId: mug.id, quantity: 2, customOptions: { giftWrap: true } },
      ]);
      expect(res.userErrors).toEqual([
        expect.objectContaining({
          code: "INSUFFICIENT_STOCK",
          variantId: mug.id,
          available: 4,
          field: ["lines", "0", "quantity"],
        }),
      ]);
      expect((await api.get(guest.token, cart.id))?.itemCount).toBe(3);
    } finally {
      await t.app.runtime.database.db
        .update(productVariants)
        .set({ reserved: 0 })
        .where(eq(productVariants.id, mug.id));
    }
  });

  it("loses no update: 50 concurrent adds end with exactly the sum", async () => {
    const cart = await newCart();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => api.add(guest.token, cart.id, [{ variantId: shirt.id, quantity: 1 }])),
    );
    expect(results.every((r) => r.userErrors.length === 0)).toBe(true);
    const after = await api.get(guest.token, cart.id);
    expect(after?.lines).toHaveLength(1);
    expect(after?.lines[0]?.quantity).toBe(50);
  });
});

describe("updating and removing lines", () => {
  it("sets quantities, 0 removes, and checks stock only when a quantity grows", async () => {
    const cart = okCart(
      await api.create(guest.token, {
        lines: [
          { variantId: mug.id, quantity: 2 },
          { variantId: shirt.id, quantity: 1 },
        ],
      }),
    );
    const mugLine = cart.lines.find((l) => l.variant.id === mug.id)!;
    const shirtLine = cart.lines.find((l) => l.variant.id === shirt.id)!;
    const tooMany = await api.update(guest.token, cart.id, [{ lineId: mugLine.id, quantity: 6 }]);
    expect(tooMany.userErrors).toEqual([
      expect.objectContaining({ code: "INSUFFICIENT_STOCK", available: 5 }),
    ]);
    const updated = okCart(
      await api.update(guest.token, cart.id, [
        { lineId: mugLine.id, quantity: 5 },
        { lineId: shirtLine.id, quantity: 0 },
      ]),
    );
    expect(updated.lines.map((l) => [l.variant.id, l.quantity])).toEqual([[mug.id, 5]]);
    // Reducing always works, even when stock has since run short.
    await t.app.runtime.database.db
      .update(productVariants)
      .set({ reserved: 4 })
      .where(eq(productVariants.id, mug.id));
    try {
      const reduced = okCart(await api.update(guest.token, cart.id, [{ lineId: mugLine.id, quantity: 4 }]));
      expect(reduced.lines[0]?.quantity).toBe(4);
      expect(reduced.warnings).toEqual([
        expect.objectContaining({ code: "INSUFFICIENT_STOCK", lineId: mugLine.id }),
      ]);
    } finally {
      await t.app.runtime.database.db
        .update(productVariants)
        .set({ reserved: 0 })
        .where(eq(productVariants.id, mug.id));
    }
  });

  it("rejects unknown, foreign and malformed line ids and bad quantities, changing nothing", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId: shirt.id, quantity: 1 }] }));
    const otherCart = okCart(
      await api.create(guest.token, { lines: [{ variantId: shirt.id, quantity: 1 }] }),
    );
    const line = cart.lines[0]!;
    const foreignLine = otherCart.lines[0]!;
    for (const [lines, code] of [
      [[{ lineId: foreignLine.id, quantity: 2 }], "NOT_FOUND"],
      [[{ lineId: "garbage", quantity: 2 }], "NOT_FOUND"],
      [[{ lineId: line.id, quantity: -1 }], "INVALID_INPUT"],
      [[{ lineId: line.id, quantity: 1000 }], "INVALID_INPUT"],
    ] as const) {
      const res = await api.update(guest.token, cart.id, [...lines]);
      expect(res.userErrors.map((e) => e.code)).toEqual([code]);
    }
    const removal = await api.remove(guest.token, cart.id, [foreignLine.id]);
    expect(removal.userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    expect((await api.get(guest.token, otherCart.id))?.itemCount).toBe(1);
    expect((await api.get(guest.token, cart.id))?.itemCount).toBe(1);
  });

  it("concurrent updates and removes never leave a negative or orphaned line", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId: shirt.id, quantity: 10 }] }));
    const lineId = cart.lines[0]!.id;
    const ops = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0
        ? api.remove(guest.token, cart.id, [lineId])
        : i % 3 === 1
          ? api.update(guest.token, cart.id, [{ lineId, quantity: (i % 7) + 1 }])
          : api.add(guest.token, cart.id, [{ variantId: shirt.id, quantity: 2 }]),
    );
    const results = await Promise.all(ops);
    for (const r of results) {
      // Either it applied, or it found its line gone: nothing else.
      for (const e of r.userErrors) expect(e.code).toBe("NOT_FOUND");
    }
    const rows = await t.app.runtime.database.db
      .select()
      .from(cartItems)
      .where(eq(cartItems.cartId, cart.id));
    for (const row of rows) expect(row.quantity).toBeGreaterThan(0);
    const [orphans] = await t.app.runtime.database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from cart_items i left join carts c on c.id = i.cart_id where c.id is null`,
    );
    expect(orphans?.n).toBe(0);
    const fromApi = await api.get(guest.token, cart.id);
    expect(fromApi?.lines.map((l) => l.quantity).sort()).toEqual(rows.map((r) => r.quantity).sort());
  });

  it("refuses changes to a cart that is not active", async () => {
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId: shirt.id, quantity: 1 }] }));
    await t.app.runtime.database.db
      .update(carts)
      .set({ status: "CHECKED_OUT", version: sql`${carts.version} + 1` })
      .where(eq(carts.id, cart.id));
    const res = await api.add(guest.token, cart.id, [{ variantId: shirt.id, quantity: 1 }]);
    expect(res.userErrors.map((e) => e.code)).toEqual(["CART_NOT_ACTIVE"]);
    const rows = await t.app.runtime.database.db
      .select()
      .from(cartItems)
      .where(eq(cartItems.cartId, cart.id));
    expect(rows.map((r) => r.quantity)).toEqual([1]);
  });
});

describe("prices captured at add", () => {
  it("keeps the captured price and flags a change of the current price", async () => {
    const product = await createProduct(t.app, store, { basePrice: 2000, variants: [{ stockOnHand: 10 }] });
    const variantId = product.variants[0]!.id;
    const cart = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 2 }] }));
    const staff = await createStaff(t.app, store);
    await t.app.ok(
      `mutation { variantPriceUpdate(variantId: "${variantId}", price: 2500) { userErrors { code } } }`,
      {},
      { token: staff.token, store: store.handle },
    );
    const after = await api.get(guest.token, cart.id);
    expect(after?.lines[0]).toMatchObject({
      unitPrice: { amount: 2000 },
      currentUnitPrice: { amount: 2500 },
      priceChanged: true,
    });
    expect(after?.cost.subtotal.amount).toBe(4000);
    expect(after?.warnings).toEqual([
      expect.objectContaining({ code: "PRICE_CHANGED", lineId: cart.lines[0]!.id }),
    ]);
  });

  it("loads a 100-line cart with a constant number of SQL statements", async () => {
    const tags = [1, 100];
    const counts: number[] = [];
    for (const n of tags) {
      const product = await createProduct(t.app, store, {
        variants: Array.from({ length: n }, () => ({ stockOnHand: 5 })),
      });
      const cart = okCart(
        await api.create(guest.token, {
          lines: product.variants.map((v) => ({ variantId: v.id, quantity: 1 })),
        }),
      );
      expect(cart.lines).toHaveLength(n);
      const res = await t.app.gql(
        `query Q($id: ID!) { cart(id: $id) { id lines { id variant { id product { id name } } currentUnitPrice { amount } } cost { total { amount } } warnings { code } } }`,
        { id: cart.id },
        { token: guest.token, store: store.handle },
      );
      expect(res.errors).toBeUndefined();
      counts.push(Number(res.headers.get("x-sql-statements")));
    }
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBe(counts[0]);
  });
});
