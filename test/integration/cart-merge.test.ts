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

/** Signs in; `guestToken` is the proof of owning the guest cart (the shopper's own guest session). */
async function login(
  email: string,
  password: string,
  guestCartId?: string,
  guestToken?: string,
): Promise<LoginResult> {
  const data = await t.app.ok<{ customerLogin: LoginResult }>(
    LOGIN,
    { email, password, guestCartId },
    { store: store.handle, token: guestToken },
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

    const first = await login(customer.email, customer.password, guestCart.id, guest.token);
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

    const again = await login(customer.email, customer.password, guestCart.id, guest.token);
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
    const res = await login(customer.email, customer.password, guestCart.id, guest.token);
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
      { store: store.handle, token: guest.token },
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
      Array.from({ length: 8 }, () => login(customer.email, customer.password, guestCart.id, guest.token)),
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
    const res = await login(customer.email, customer.password, guestCart.id, guest.token);
    expect(res.cart?.itemCount).toBe(0);
    expect(res.cart?.warnings).toEqual([expect.objectContaining({ code: "INSUFFICIENT_STOCK" })]);
  });

  it("never merges a guest cart without the guest token that owns it (no takeover by knowing the id)", async () => {
    const p = await createProduct(t.app, store, { variants: [{ stockOnHand: 10 }] });
    const victim = await createGuest(t.app, store);
    const victimCart = okCart(
      await api.create(victim.token, {
        lines: [{ variantId: p.variants[0]!.id, quantity: 2, customOptions: { personalization: "For Ada" } }],
        email: "victim@test.example",
      }),
    );
    const attacker = await createCustomer(t.app, store);
    const attackerGuest = await createGuest(t.app, store);
    // Anonymous sign-in naming the victim's cart, and sign-in with the attacker's own guest token.
    for (const token of [undefined, attackerGuest.token]) {
      const res = await login(attacker.email, attacker.password, victimCart.id, token);
      expect(res.token).toBeTruthy();
      expect(res.userErrors).toEqual([{ code: "NOT_FOUND", field: ["guestCartId"] }]);
      expect(res.cart?.itemCount ?? 0).toBe(0);
    }
    const registered = await t.app.ok<{
      customerRegister: { cart: { itemCount: number } | null; userErrors: unknown[] };
    }>(
      `mutation R($input: CustomerRegisterInput!) { customerRegister(input: $input) { cart { itemCount } userErrors { code } } }`,
      {
        input: {
          email: `thief-${unique()}@test.example`,
          password: "long enough secret",
          guestCartId: victimCart.id,
        },
      },
      { store: store.handle },
    );
    expect(registered.customerRegister.userErrors).toEqual([{ code: "NOT_FOUND" }]);
    expect(await cartStatus(victimCart.id)).toBe("ACTIVE");
    const still = await api.get(victim.token, victimCart.id);
    expect(still?.itemCount).toBe(2);
    expect(still?.email).toBe("victim@test.example");
  });

  it("keeps the merged cart within the line limit of a direct add, with a warning", async () => {
    const customer = await createCustomer(t.app, store);
    const guest = await createGuest(t.app, store);
    const products = await Promise.all(
      Array.from({ length: 6 }, () =>
        createProduct(t.app, store, { basePrice: 100, variants: [{ stockOnHand: 5 }] }),
      ),
    );
    const [custCart, guestCart] = [
      okCart(
        await api.create(customer.token, {
          lines: [{ variantId: products[0]!.variants[0]!.id, quantity: 1 }],
        }),
      ),
      okCart(
        await api.create(guest.token, {
          lines: products.slice(1).map((x) => ({ variantId: x.variants[0]!.id, quantity: 1 })),
        }),
      ),
    ];
    expect(custCart.lines).toHaveLength(1);
    expect(guestCart.lines).toHaveLength(5);
    // Fill the customer's cart up to the limit, directly in the database (250 products would be slow).
    const { cartItems } = await import("../../src/db/schema.js");
    const { MAX_CART_LINES } = await import("../../src/services/cart/cart.types.js");
    const fillers = await Promise.all(
      [100, 100, MAX_CART_LINES - 203].map((n) =>
        createProduct(t.app, store, {
          basePrice: 100,
          variants: Array.from({ length: n }, () => ({ stockOnHand: 5 })),
        }),
      ),
    );
    await t.app.runtime.database.db.insert(cartItems).values(
      fillers.flatMap((filler) =>
        filler.variants.map((v) => ({
          storeId: store.id,
          cartId: custCart.id,
          productId: filler.product.id,
          variantId: v.id,
          quantity: 1,
          unitPrice: 100,
        })),
      ),
    );
    const res = await login(customer.email, customer.password, guestCart.id, guest.token);
    expect(res.userErrors).toEqual([]);
    expect(res.cart?.lines).toHaveLength(MAX_CART_LINES);
    expect(res.cart?.warnings.filter((w) => w.code === "CART_LIMIT_REACHED")).toHaveLength(3);
  });
});
