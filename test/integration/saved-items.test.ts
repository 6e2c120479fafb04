import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { productVariants } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { cartApi, okCart } from "../support/cart-api.js";
import {
  createCustomer,
  createGuest,
  createProduct,
  createStaff,
  createStore,
  type TestCustomer,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let api: ReturnType<typeof cartApi>;
let customer: TestCustomer;

const SAVED = `{ savedItems { id quantity customOptions variant { id } } }`;

beforeAll(async () => {
  store = await createStore(t.app);
  api = cartApi(t.app, store.handle);
  customer = await createCustomer(t.app, store);
});

async function savedItems(token: string) {
  const data = await t.app.ok<{
    savedItems: { id: string; quantity: number; customOptions: unknown; variant: { id: string } }[];
  }>(SAVED, {}, { token, store: store.handle });
  return data.savedItems;
}

describe("saved for later", () => {
  it("moves a line out of the cart and back in at today's price, re-checking stock", async () => {
    const p = await createProduct(t.app, store, { basePrice: 1000, variants: [{ stockOnHand: 5 }] });
    const vid = p.variants[0]!.id;
    const cart = okCart(
      await api.create(customer.token, {
        lines: [{ variantId: vid, quantity: 2, customOptions: { giftWrap: true } }],
      }),
    );
    const saved = okCart(await api.saveForLater(customer.token, cart.id, cart.lines[0]!.id));
    expect(saved.lines).toHaveLength(0);
    const items = await savedItems(customer.token);
    expect(items).toEqual([
      { id: expect.any(String), quantity: 2, customOptions: { giftWrap: true }, variant: { id: vid } },
    ]);

    const staff = await createStaff(t.app, store);
    await t.app.ok(
      `mutation { variantPriceUpdate(variantId: "${vid}", price: 1200) { userErrors { code } } }`,
      {},
      { token: staff.token, store: store.handle },
    );
    await t.app.runtime.database.db
      .update(productVariants)
      .set({ reserved: 4 })
      .where(eq(productVariants.id, vid));
    const short = await api.moveToCart(customer.token, items[0]!.id, cart.id);
    expect(short.userErrors).toEqual([expect.objectContaining({ code: "INSUFFICIENT_STOCK", available: 1 })]);
    expect(await savedItems(customer.token)).toHaveLength(1); // nothing moved
    await t.app.runtime.database.db
      .update(productVariants)
      .set({ reserved: 0 })
      .where(eq(productVariants.id, vid));

    const moved = okCart(await api.moveToCart(customer.token, items[0]!.id, cart.id));
    expect(moved.lines[0]).toMatchObject({
      quantity: 2,
      unitPrice: { amount: 1200 },
      priceChanged: false,
      customOptions: { giftWrap: true },
    });
    expect(await savedItems(customer.token)).toEqual([]);
  });

  it("moving one saved item twice at once adds it once", async () => {
    const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 50 }] });
    const cart = okCart(
      await api.create(customer.token, { lines: [{ variantId: p.variants[0]!.id, quantity: 3 }] }),
    );
    okCart(
      await api.saveForLater(
        customer.token,
        cart.id,
        cart.lines.find((l) => l.variant.id === p.variants[0]!.id)!.id,
      ),
    );
    const [item] = (await savedItems(customer.token)).filter((i) => i.variant.id === p.variants[0]!.id);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => api.moveToCart(customer.token, item!.id, cart.id)),
    );
    expect(results.filter((r) => r.userErrors.length === 0)).toHaveLength(1);
    const after = await api.get(customer.token, cart.id);
    expect(after?.lines.find((l) => l.variant.id === p.variants[0]!.id)?.quantity).toBe(3);
  });

  it("is for customers only, and only for their own items", async () => {
    const guest = await createGuest(t.app, store);
    const asGuest = await t.app.gql(SAVED, {}, { token: guest.token, store: store.handle });
    expect(asGuest.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const anon = await t.app.gql(SAVED, {}, { store: store.handle });
    expect(anon.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");

    const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 5 }] });
    const cart = okCart(
      await api.create(customer.token, { lines: [{ variantId: p.variants[0]!.id, quantity: 1 }] }),
    );
    okCart(
      await api.saveForLater(
        customer.token,
        cart.id,
        cart.lines.find((l) => l.variant.id === p.variants[0]!.id)!.id,
      ),
    );
    const mine = (await savedItems(customer.token)).find((i) => i.variant.id === p.variants[0]!.id)!;
    const intruder = await createCustomer(t.app, store);
    const intruderCart = okCart(await api.create(intruder.token));
    const steal = await api.moveToCart(intruder.token, mine.id, intruderCart.id);
    expect(steal.userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    const remove = await t.app.ok<{ savedItemRemove: { userErrors: { code: string }[] } }>(
      `mutation { savedItemRemove(savedItemId: "${mine.id}") { userErrors { code } } }`,
      {},
      { token: intruder.token, store: store.handle },
    );
    expect(remove.savedItemRemove.userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);
    const ok = await t.app.ok<{ savedItemRemove: { savedItems: unknown[]; userErrors: unknown[] } }>(
      `mutation { savedItemRemove(savedItemId: "${mine.id}") { savedItems { id } userErrors { code } } }`,
      {},
      { token: customer.token, store: store.handle },
    );
    expect(ok.savedItemRemove.userErrors).toEqual([]);
    expect(ok.savedItemRemove.savedItems.some((i) => (i as { id: string }).id === mine.id)).toBe(false);
  });
});
