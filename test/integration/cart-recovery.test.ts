/**
 * cartRecover over real HTTP: a valid link hands a guest cart to the link holder (a new guest session
 * for an anonymous caller, their own session for a guest) and nothing else; an expired, tampered or
 * foreign-store link, or a bearer token passed as a link, is a userError and changes nothing; a
 * customer's cart is returned only to that customer signed in; a recovery token is no bearer token.
 */
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { carts } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { CART_FIELDS, type CartShape, cartApi, okCart } from "../support/cart-api.js";
import { checkout, productWithStock, readyCart, shop } from "../support/checkout-fixtures.js";
import { createCustomer, createGuest, createStore, type TestGuest } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const JWT_SECRET = "test-secret-that-is-long-enough-for-hs256!"; // test-app.ts's
const t = useTestApp({ env: { NOTIFICATIONS_ENABLED: "false" } });
let store: StoreRef;
let api: ReturnType<typeof cartApi>;
let variantId: string;

beforeAll(async () => {
  store = await createStore(t.app);
  api = cartApi(t.app, store.handle);
  variantId = (await productWithStock(t.app, store, 100)).variantId;
});

interface RecoverShape {
  token: string | null;
  cart: CartShape | null;
  userErrors: { code: string; message: string; field: string[] | null }[];
}

async function recover(token: string, opts: { bearer?: string; store?: string } = {}): Promise<RecoverShape> {
  const data = await t.app.ok<{ cartRecover: RecoverShape }>(
    `mutation R($token: String!) { cartRecover(token: $token) { token cart { ${CART_FIELDS} } userErrors { code message field } } }`,
    { token },
    { store: opts.store ?? store.handle, token: opts.bearer },
  );
  return data.cartRecover;
}

async function link(cartId: string, forStore: StoreRef = store): Promise<string> {
  const url = await t.app.runtime.services.cartRecovery.linkFor(forStore, cartId);
  const token = new URL(url.url).searchParams.get("token");
  if (!token) throw new Error("no token in link");
  return token;
}

async function guestCart(guest?: TestGuest): Promise<{ guest: TestGuest; cart: CartShape }> {
  const owner = guest ?? (await createGuest(t.app, store));
  const cart = okCart(
    await api.create(owner.token, { lines: [{ variantId, quantity: 2 }], email: "g@test.example" }),
  );
  await t.app.runtime.database.db.update(carts).set({ status: "ABANDONED" }).where(eq(carts.id, cart.id));
  return { guest: owner, cart };
}

async function sessionOf(cartId: string): Promise<string | null> {
  const [row] = await t.app.runtime.database.db
    .select({ sessionId: carts.sessionId })
    .from(carts)
    .where(eq(carts.id, cartId));
  return row?.sessionId ?? null;
}

describe("cartRecover, guest carts", () => {
  it("gives an anonymous link holder a new guest session that owns the cart, and only that cart", async () => {
    const { guest, cart } = await guestCart();
    const other = okCart(await api.create(guest.token, { lines: [{ variantId, quantity: 1 }] }));
    const res = await recover(await link(cart.id));
    expect(res.userErrors).toEqual([]);
    expect(res.cart).toMatchObject({ id: cart.id, status: "ACTIVE", itemCount: 2 });
    if (!res.token) throw new Error("no token");
    expect(await api.get(res.token, cart.id)).toMatchObject({ id: cart.id, status: "ACTIVE" });
    // The link holder did not get the session that filled the cart: its other cart stays out of reach.
    expect(await api.get(res.token, other.id)).toBeNull();
    expect((await api.mine(res.token))?.id).toBe(cart.id);
    // The cart moved: the session that abandoned it no longer has it.
    expect(await api.get(guest.token, cart.id)).toBeNull();
    expect(await sessionOf(cart.id)).not.toBe(guest.sessionId);
  });

  it("moves the cart into a guest caller's own session", async () => {
    const { cart } = await guestCart();
    const holder = await createGuest(t.app, store);
    const res = await recover(await link(cart.id), { bearer: holder.token });
    expect(res.userErrors).toEqual([]);
    expect(await sessionOf(cart.id)).toBe(holder.sessionId);
    expect((await api.get(holder.token, cart.id))?.id).toBe(cart.id);
  });

  it("refuses an expired link and changes nothing", async () => {
    const { guest, cart } = await guestCart();
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ typ: "cart_recovery", store: store.id })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(cart.id)
      .setIssuer("cartograph")
      .setAudience("cart-recovery")
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 60)
      .sign(new TextEncoder().encode(JWT_SECRET));
    const res = await recover(expired);
    expect(res).toMatchObject({ token: null, cart: null });
    expect(res.userErrors.map((e) => [e.code, e.field])).toEqual([["LINK_EXPIRED", ["token"]]]);
    expect(await sessionOf(cart.id)).toBe(guest.sessionId);
  });

  it("refuses a tampered link, a link signed with another key and a bearer token, and changes nothing", async () => {
    const { guest, cart } = await guestCart();
    const valid = await link(cart.id);
    const [header, payload, signature] = valid.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const { cart: otherCart } = await guestCart();
    const swapped = Buffer.from(JSON.stringify({ ...claims, sub: otherCart.id })).toString("base64url");
    const flipped = `${signature.slice(0, -2)}${signature.endsWith("AA") ? "BB" : "AA"}`;
    const forged = await new SignJWT({ typ: "cart_recovery", store: store.id })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(cart.id)
      .setIssuer("cartograph")
      .setAudience("cart-recovery")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode("another-secret-that-is-long-enough-for-hs256"));
    for (const token of [
      `${header}.${swapped}.${signature}`,
      `${header}.${payload}.${flipped}`,
      forged,
      guest.token,
      "not a token",
    ]) {
      const res = await recover(token);
      expect(
        res.userErrors.map((e) => e.code),
        token,
      ).toEqual(["LINK_INVALID"]);
      expect(res.cart).toBeNull();
    }
    expect(await sessionOf(cart.id)).toBe(guest.sessionId);
    expect(await sessionOf(otherCart.id)).not.toBeNull();
  });

  it("refuses a link of another store", async () => {
    const other = await createStore(t.app);
    const { guest, cart } = await guestCart();
    // A link naming this cart but signed for the other store, and this store's link sent to the other.
    for (const [token, at] of [
      [await link(cart.id, other), store.handle],
      [await link(cart.id), other.handle],
    ] as const) {
      const res = await recover(token, { store: at });
      expect(res.userErrors.map((e) => e.code)).toEqual(["LINK_INVALID"]);
    }
    expect(await sessionOf(cart.id)).toBe(guest.sessionId);
  });

  it("a recovery token is no bearer token", async () => {
    const { cart } = await guestCart();
    const res = await t.app.gql(`{ myCart { id } }`, {}, { store: store.handle, token: await link(cart.id) });
    expect(res.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("a cart that was checked out cannot be recovered", async () => {
    const setup = await shop(t.app, store);
    const ready = await readyCart(t.app, setup, [{ variantId, quantity: 1 }]);
    const placed = await checkout(t.app, store, ready.guest.token, { cartId: ready.cartId });
    expect(placed.order?.status).toBe("CONFIRMED");
    const res = await recover(await link(ready.cartId));
    expect(res.userErrors.map((e) => e.code)).toEqual(["CART_NOT_ACTIVE"]);
    expect(await sessionOf(ready.cartId)).toBe(ready.guest.sessionId);
  });
});

describe("cartRecover, customer carts", () => {
  it("returns the cart only to its customer signed in; others learn nothing of it", async () => {
    const owner = await createCustomer(t.app, store);
    const cart = okCart(await api.create(owner.token, { lines: [{ variantId, quantity: 3 }] }));
    await t.app.runtime.database.db.update(carts).set({ status: "ABANDONED" }).where(eq(carts.id, cart.id));
    const token = await link(cart.id);

    const anonymous = await recover(token);
    expect(anonymous).toMatchObject({ token: null, cart: null });
    expect(anonymous.userErrors.map((e) => e.code)).toEqual(["FORBIDDEN"]);
    const guest = await createGuest(t.app, store);
    expect((await recover(token, { bearer: guest.token })).userErrors.map((e) => e.code)).toEqual([
      "FORBIDDEN",
    ]);
    const stranger = await createCustomer(t.app, store);
    const strangers = await recover(token, { bearer: stranger.token });
    expect(strangers).toMatchObject({ token: null, cart: null });
    expect(strangers.userErrors.map((e) => e.code)).toEqual(["NOT_FOUND"]);

    const mine = await recover(token, { bearer: owner.token });
    expect(mine.userErrors).toEqual([]);
    expect(mine.token).toBeNull();
    expect(mine.cart).toMatchObject({ id: cart.id, itemCount: 3 });
    const [row] = await t.app.runtime.database.db
      .select({ customerId: carts.customerId, sessionId: carts.sessionId })
      .from(carts)
      .where(eq(carts.id, cart.id));
    expect(row).toEqual({ customerId: owner.id, sessionId: null });
  });
});
