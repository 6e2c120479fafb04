import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { carts, productVariants } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { type CartShape, cartApi, okCart } from "../support/cart-api.js";
import {
  createCustomer,
  createGuest,
  createProduct,
  createStaff,
  createStore,
  unique,
} from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();
let store: StoreRef;
let api: ReturnType<typeof cartApi>;

beforeAll(async () => {
  store = await createStore(t.app);
  api = cartApi(t.app, store.handle);
});

const LOGIN = `mutation L($email: String!, $password: String!, $guestCartId: ID) {
  customerLogin(email: $email, password: $password, guestCartId: $guestCartId) {
    token customer { id }
    cart { id status itemCount lines { quantity priceChanged unitPrice { amount } currentUnitPrice { amount } variant { id } } warnings { code message } }
    userErrors { code field }
  }
}`;

interface LoginResult {
  token: string | null;
  cart:
    | (Pick<CartShape, "id" | "status" | "itemCount" | "warnings"> & {
        lines: {
          quantity: number;
          priceChanged: boolean;
          unitPrice: { amount: number };
          currentUnitPrice: { amount: number };
          variant: { id: string };
        }[];
      })
    | null;
  userErrors: { code: string; field: string[] }[];
}

async function login(email: string, password: string, guestCartId?: string): Promise<LoginResult> {
  const data = await t.app.ok<{ customerLogin: LoginResult }>(
    LOGIN,
    { email, password, guestCartId },
    { store: store.handle },
  );
  return data.customerLogin;
}

async function cartStatus(id: string): Promise<string | undefined> {
  const [row] = await t.app.runtime.database.db
    .select({ status: carts.status })
    .from(carts)
    .where(eq(carts.id, id));
  return row?.status;
}

describe("merging the guest cart on sign-in", () => {
  it("sums matching lines capped at available stock, keeps captured prices, flags changes, and is a no-op on retry", async () => {
    const a = await createProduct(t.app, store, { basePrice: 1000, variants: [{ stockOnHand: 5 }] });
    const b = await createProduct(t.app, store, { basePrice: 700, variants: [{ stockOnHand: 10 }] });
    const va = a.variants[0]!.id;
    const vb = b.variants[0]!.id;
    const customer = await createCustomer(t.app, store);
    okCart(await api.create(customer.token, { lines: [{ variantId: va, quantity: 3 }] }));

    const guest = await createGuest(t.app, store);
    const guestCart = okCart(
      await api.create(guest.token, {
        lines: [
          { variantId: va, quantity: 4 },
          { variantId: vb, quantity: 2 },
        ],
      }),
    );
    // b's price changes after the guest captured it.
    const staff = await createStaff(t.app, store);
    await t.app.ok(
      `mutation { variantPriceUpdate(variantId: "${vb}", price: 900) { userErrors { code } } }`,
      {},
      { token: staff.token, store: store.handle },
    );

    const first = await login(customer.email, customer.password, guestCart.id);
    expect(first.userErrors).toEqual([]);
    expect(first.token).toBeTruthy();
    const lines = first.cart?.lines ?? [];
    expect(lines.find((l) => l.variant.id === va)?.quantity).toBe(5); // 3 + 4 capped at stock 5
    expect(lines.find((l) => l.variant.id === vb)).toMatchObject({
      quantity: 2,
      unitPrice: { amount: 700 },
      currentUnitPrice: { amount: 900 },
      priceChanged: true,
    });
    expect(first.cart?.warnings.map((w) => w.code).sort()).toEqual(["INSUFFICIENT_STOCK", "PRICE_CHANGED"]);
    expect(await cartStatus(guestCart.id)).toBe("MERGED");

    const again = await login(customer.email, customer.password, guestCart.id);
    expect(again.userErrors).toEqual([]);
    expect(again.cart?.id).toBe(first.cart?.id);
    expect(again.cart?.itemCount).toBe(first.cart?.itemCount);
    // The guest can no longer change the merged cart.
    const late = await api.add(guest.token, guestCart.id, [{ variantId: vb, quantity: 1 }]);
    expect(late.userErrors.map((e) => e.code)).toEqual(["CART_NOT_ACTIVE"]);
  });

  it("gives a customer without a cart one holding the guest's lines", async () => {
    const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 3 }] });
    const customer = await createCustomer(t.app, store);
    const guest = await createGuest(t.app, store);
    const guestCart = okCart(
      await api.create(guest.token, { lines: [{ variantId: p.variants[0]!.id, quantity: 2 }] }),
    );
    const res = await login(customer.email, customer.password, guestCart.id);
    expect(res.cart?.id).not.toBe(guestCart.id);
    expect(res.cart?.itemCount).toBe(2);
  });

  it("merges during registration too", async () => {
    const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 3 }] });
    const guest = await createGuest(t.app, store);
    const guestCart = okCart(
      await api.create(guest.token, { lines: [{ variantId: p.variants[0]!.id, quantity: 1 }] }),
    );
    const data = await t.app.ok<{
      customerRegister: { cart: { itemCount: number } | null; userErrors: unknown[] };
    }>(
      `mutation R($input: CustomerRegisterInput!) { customerRegister(input: $input) { cart { itemCount } userErrors { code } } }`,
      {
        input: {
          email: `new-${unique()}@test.example`,
          password: "long enough secret",
          guestCartId: guestCart.id,
        },
      },
      { store: store.handle },
    );
    expect(data.customerRegister).toEqual({ cart: { itemCount: 1 }, userErrors: [] });
  });

  it("concurrent sign-ins merging one guest cart merge it once", async () => {
    const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 100 }] });
    const customer = await createCustomer(t.app, store);
    const guest = await createGuest(t.app, store);
    const guestCart = okCart(
      await api.create(guest.token, { lines: [{ variantId: p.variants[0]!.id, quantity: 3 }] }),
    );
    const results = await Promise.all(
      Array.from({ length: 8 }, () => login(customer.email, customer.password, guestCart.id)),
    );
    for (const r of results) expect(r.userErrors).toEqual([]);
    expect(new Set(results.map((r) => r.cart?.id)).size).toBe(1);
    const mine = await api.mine(results[0]!.token!);
    expect(mine?.itemCount).toBe(3);
  });

  it("signs in even when the guest cart cannot be merged, and says why", async () => {
    const customer = await createCustomer(t.app, store);
    const unknown = await login(customer.email, customer.password, "00000000-0000-4000-8000-000000000000");
    expect(unknown.token).toBeTruthy();
    expect(unknown.userErrors).toEqual([{ code: "NOT_FOUND", field: ["guestCartId"] }]);
    // Another customer's cart is not a guest cart: it is not taken.
    const victim = await createCustomer(t.app, store);
    const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 3 }] });
    const victimCart = okCart(
      await api.create(victim.token, { lines: [{ variantId: p.variants[0]!.id, quantity: 1 }] }),
    );
    const steal = await login(customer.email, customer.password, victimCart.id);
    expect(steal.userErrors).toEqual([{ code: "NOT_FOUND", field: ["guestCartId"] }]);
    expect(await cartStatus(victimCart.id)).toBe("ACTIVE");
  });

  it("drops guest lines whose stock is gone and says so", async () => {
    const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 2 }] });
    const vid = p.variants[0]!.id;
    const guest = await createGuest(t.app, store);
    const guestCart = okCart(await api.create(guest.token, { lines: [{ variantId: vid, quantity: 2 }] }));
    await t.app.runtime.database.db
      .update(productVariants)
      .set({ reserved: 2 })
      .where(eq(productVariants.id, vid));
    const customer = await createCustomer(t.app, store);
    const res = await login(customer.email, customer.password, guestCart.id);
    expect(res.cart?.itemCount).toBe(0);
    expect(res.cart?.warnings).toEqual([expect.objectContaining({ code: "INSUFFICIENT_STOCK" })]);
  });
});
