/**
 * Tokens speak for live accounts only (deleted accounts and signed-out sessions end them, `exp` is
 * required), and sign-in throttling is keyed so that an attacker slows themselves, not the victim.
 * Distinct clients are simulated with X-Forwarded-For behind one trusted proxy hop.
 */
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { staffUsers } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { createCustomer, createStaff, createStore, unique } from "../support/fixtures.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

const SECRET = "test-secret-that-is-long-enough-for-hs256!";
let app: TestApp;
let store: StoreRef;

beforeAll(async () => {
  app = await createTestApp({
    env: {
      TRUST_PROXY_HOPS: "1",
      AUTH_CHECK_CACHE_SECONDS: "0",
      SIGN_IN_ATTEMPTS_PER_ACCOUNT_CLIENT: "5",
      SIGN_IN_ATTEMPTS_PER_CLIENT: "8",
      SIGN_IN_SLOWDOWN_AFTER: "6",
    },
  });
  store = await createStore(app);
});
afterAll(async () => {
  await app?.close();
});

const LOGIN = `mutation L($email: String!, $password: String!) {
  customerLogin(email: $email, password: $password) { token userErrors { code message } } }`;
const STAFF_LOGIN = `mutation L($email: String!, $password: String!) {
  staffLogin(email: $email, password: $password) { token userErrors { code message } } }`;

function from(ip: string) {
  return { "x-forwarded-for": ip };
}

async function login(email: string, password: string, ip: string, query = LOGIN) {
  const res = await app.ok<Record<string, { token: string | null; userErrors: { code: string }[] }>>(
    query,
    { email, password },
    { store: store.handle, headers: from(ip) },
  );
  const payload = Object.values(res)[0];
  if (!payload) throw new Error("no payload");
  return payload;
}

const ME = `{ me { id } }`;

describe("tokens speak for live accounts only", () => {
  it("ends a staff token when the staff row is deleted", async () => {
    const staff = await createStaff(app, store);
    const create = `mutation { discountCreate(input: { code: "ALL${unique()}", type: PERCENTAGE, value: 100 }) { discount { id } userErrors { code } } }`;
    expect((await app.gql(create, {}, { store: store.handle, token: staff.token })).errors).toBeUndefined();
    await app.runtime.database.db.delete(staffUsers).where(eq(staffUsers.id, staff.id));
    const after = await app.gql(create, {}, { store: store.handle, token: staff.token });
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("signs out everywhere: every earlier token of the account stops working, a new sign-in works", async () => {
    const customer = await createCustomer(app, store);
    const second = await login(customer.email, customer.password, "10.1.0.1");
    expect((await app.gql(ME, {}, { store: store.handle, token: customer.token })).data).toEqual({
      me: { id: customer.id },
    });
    const out = await app.ok<{ signOut: { signedOut: boolean; userErrors: unknown[] } }>(
      `mutation { signOut { signedOut userErrors { code } } }`,
      {},
      { store: store.handle, token: customer.token },
    );
    expect(out.signOut).toEqual({ signedOut: true, userErrors: [] });
    for (const token of [customer.token, second.token!]) {
      const res = await app.gql(ME, {}, { store: store.handle, token });
      expect(res.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    }
    const fresh = await login(customer.email, customer.password, "10.1.0.1");
    expect((await app.gql(ME, {}, { store: store.handle, token: fresh.token! })).data).toEqual({
      me: { id: customer.id },
    });
  });

  it("refuses a validly signed token without an expiry", async () => {
    const customer = await createCustomer(app, store);
    const forever = await new SignJWT({ typ: "customer", store: store.id, email: customer.email, ep: 0 })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(customer.id)
      .setIssuer("cartograph")
      .setIssuedAt()
      .sign(new TextEncoder().encode(SECRET));
    const res = await app.gql(ME, {}, { store: store.handle, token: forever });
    expect(res.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("sign-in throttling", () => {
  it("blocks the client that guesses, not the account's owner on their own client", async () => {
    const victim = await createCustomer(app, store);
    const attackerIp = `10.2.${Math.floor(Math.random() * 200)}.1`;
    const codes: string[] = [];
    for (let i = 0; i < 7; i++) {
      codes.push((await login(victim.email, "wrong-password", attackerIp)).userErrors[0]?.code ?? "OK");
    }
    expect(codes.slice(0, 5)).toEqual(Array(5).fill("INVALID_CREDENTIALS"));
    expect(codes.slice(5)).toEqual(["RATE_LIMITED", "RATE_LIMITED"]);
    // The right password from the attacker's client is refused too (no oracle), from the victim's it works.
    expect((await login(victim.email, victim.password, attackerIp)).userErrors[0]?.code).toBe("RATE_LIMITED");
    const own = await login(victim.email, victim.password, "10.3.0.7");
    expect(own.userErrors).toEqual([]);
    expect(own.token).toBeTruthy();
  });

  it("refuses a client spraying many accounts", async () => {
    const ip = "10.4.0.9";
    const codes: string[] = [];
    for (let i = 0; i < 10; i++) {
      codes.push(
        (await login(`nobody-${i}-${unique()}@test.example`, "x-password", ip)).userErrors[0]?.code ?? "OK",
      );
    }
    expect(codes.slice(0, 8)).toEqual(Array(8).fill("INVALID_CREDENTIALS"));
    expect(codes.slice(8)).toEqual(["RATE_LIMITED", "RATE_LIMITED"]);
  });

  it("slows, never locks, an account guessed from many clients: its owner still signs in", async () => {
    const staff = await createStaff(app, store);
    for (let i = 0; i < 8; i++) {
      const r = await login(staff.email, "wrong-password", `10.5.${i}.1`, STAFF_LOGIN);
      expect(r.userErrors[0]?.code).toBe("INVALID_CREDENTIALS");
    }
    const own = await login(staff.email, staff.password, "10.6.0.1", STAFF_LOGIN);
    expect(own.userErrors).toEqual([]);
    expect(own.token).toBeTruthy();
  });
});
