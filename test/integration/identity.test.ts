import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { customers } from "../../src/db/schema.js";
import type { StoreRef } from "../../src/services/context.js";
import { createCustomer, createStaff, createStore, type TestStaff, unique } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const t = useTestApp();

interface UserErrorJson {
  code: string;
  message: string;
  field: string[] | null;
}
interface CustomerJson {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
}
interface CustomerAuthJson {
  token: string | null;
  customer: CustomerJson | null;
  userErrors: UserErrorJson[];
}

const USER_ERRORS = "userErrors { code message field }";
const GUEST = `mutation { guestSessionCreate { token ${USER_ERRORS} } }`;
const REGISTER = `mutation ($input: CustomerRegisterInput!) {
  customerRegister(input: $input) { token customer { id email firstName lastName } ${USER_ERRORS} } }`;
const LOGIN = `mutation ($email: String!, $password: String!, $guestCartId: ID) {
  customerLogin(email: $email, password: $password, guestCartId: $guestCartId) {
    token customer { id email firstName lastName } ${USER_ERRORS} } }`;
const STAFF_LOGIN = `mutation ($email: String!, $password: String!) {
  staffLogin(email: $email, password: $password) { token staff { id email name role } ${USER_ERRORS} } }`;
const ME = "query { me { id email firstName lastName } }";

let storeA: StoreRef;
let storeB: StoreRef;
let staffA: TestStaff;

beforeAll(async () => {
  storeA = await createStore(t.app);
  storeB = await createStore(t.app);
  staffA = await createStaff(t.app, storeA, { name: "Ada Owner", role: "ADMIN" });
});

const db = () => t.app.runtime.database.db;

function register(input: Record<string, unknown>, store: StoreRef = storeA) {
  return t.app.gql<{ customerRegister: CustomerAuthJson }>(REGISTER, { input }, { store: store.handle });
}

function login(email: string, password: string, store: StoreRef = storeA, guestCartId?: string) {
  return t.app.gql<{ customerLogin: CustomerAuthJson }>(
    LOGIN,
    { email, password, guestCartId },
    { store: store.handle },
  );
}

function staffLogin(email: string, password: string, store: StoreRef = storeA) {
  return t.app.gql<{
    staffLogin: { token: string | null; staff: Record<string, string> | null; userErrors: UserErrorJson[] };
  }>(STAFF_LOGIN, { email, password }, { store: store.handle });
}

async function me(token: string | undefined, store: StoreRef = storeA) {
  return (await t.app.ok<{ me: CustomerJson | null }>(ME, {}, { token, store: store.handle })).me;
}

async function customersWithEmail(store: StoreRef, email: string) {
  return db()
    .select()
    .from(customers)
    .where(and(eq(customers.storeId, store.id), eq(customers.email, email)));
}

describe("guestSessionCreate", () => {
  it("hands out a guest token with a fresh session each time", async () => {
    const first = (
      await t.app.ok<{ guestSessionCreate: { token: string; userErrors: [] } }>(
        GUEST,
        {},
        {
          store: storeA.handle,
        },
      )
    ).guestSessionCreate;
    const second = (
      await t.app.ok<{ guestSessionCreate: { token: string } }>(GUEST, {}, { store: storeA.handle })
    ).guestSessionCreate;
    expect(first.userErrors).toEqual([]);
    const tokens = t.app.runtime.services.deps.tokens;
    const a = await tokens.verify(first.token, storeA.id);
    const b = await tokens.verify(second.token, storeA.id);
    expect(a).toMatchObject({ kind: "guest", sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(b.kind === "guest" && a.kind === "guest" && a.sessionId !== b.sessionId).toBe(true);
    // A guest is no customer, and the token belongs to its store only.
    expect(await me(first.token)).toBeNull();
    const elsewhere = await t.app.gql(ME, {}, { token: first.token, store: storeB.handle });
    expect(elsewhere.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

describe("customerRegister", () => {
  it("creates the account with a normalised email and signs the customer in", async () => {
    const tag = unique();
    const res = await register({
      email: `  Alice.${tag}@Example.COM `,
      password: "correct horse battery",
      firstName: " Alice ",
      lastName: "",
    });
    expect(res.errors).toBeUndefined();
    const payload = res.data!.customerRegister;
    expect(payload.userErrors).toEqual([]);
    expect(payload.customer).toMatchObject({
      email: `alice.${tag}@example.com`,
      firstName: "Alice",
      lastName: null,
    });
    expect(await me(payload.token!)).toEqual(payload.customer);
    const [row] = await customersWithEmail(storeA, `alice.${tag}@example.com`);
    expect(row!.passwordHash).toMatch(/^scrypt\$/);
    expect(row!.passwordHash).not.toContain("correct horse");
  });

  it("rejects a bad email or password length, writing nothing", async () => {
    const email = `bob-${unique()}@example.com`;
    const cases: [Record<string, unknown>, string[]][] = [
      [{ email, password: "1234567" }, ["input", "password"]],
      [{ email, password: "x".repeat(201) }, ["input", "password"]],
      [{ email: "not-an-email", password: "long enough" }, ["input", "email"]],
      [{ email, password: "long enough", firstName: "x".repeat(101) }, ["input", "firstName"]],
    ];
    for (const [input, field] of cases) {
      const payload = (await register(input)).data!.customerRegister;
      expect(payload).toMatchObject({
        token: null,
        customer: null,
        userErrors: [{ code: "INVALID_INPUT", field }],
      });
    }
    expect(await customersWithEmail(storeA, email)).toEqual([]);
    // Exactly 8 and exactly 200 characters are fine.
    expect((await register({ email, password: "12345678" })).data!.customerRegister.userErrors).toEqual([]);
    const longer = `long-${unique()}@example.com`;
    expect(
      (await register({ email: longer, password: "y".repeat(200) })).data!.customerRegister.userErrors,
    ).toEqual([]);
  });

  it("an email already registered (in any case) is EMAIL_TAKEN; other stores have their own accounts", async () => {
    const email = `carol-${unique()}@example.com`;
    expect((await register({ email, password: "first password" })).data!.customerRegister.userErrors).toEqual(
      [],
    );
    const again = (await register({ email: email.toUpperCase(), password: "second password" })).data!
      .customerRegister;
    expect(again).toMatchObject({
      token: null,
      customer: null,
      userErrors: [{ code: "EMAIL_TAKEN", field: ["input", "email"] }],
    });
    const inB = (await register({ email, password: "third password" }, storeB)).data!.customerRegister;
    expect(inB.userErrors).toEqual([]);
    expect(await customersWithEmail(storeA, email)).toHaveLength(1);
    expect(await customersWithEmail(storeB, email)).toHaveLength(1);
  });

  it("racing registrations of one email: exactly one account, the rest EMAIL_TAKEN", async () => {
    const email = `race-${unique()}@example.com`;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => register({ email, password: `password number ${i}` })),
    );
    const payloads = results.map((r) => r.data!.customerRegister);
    const winners = payloads.filter((p) => p.userErrors.length === 0);
    expect(winners).toHaveLength(1);
    expect(winners[0]!.token).toBeTruthy();
    const losers = payloads.filter((p) => p.userErrors.length > 0);
    expect(losers).toHaveLength(9);
    for (const p of losers) expect(p).toMatchObject({ token: null, userErrors: [{ code: "EMAIL_TAKEN" }] });
    const rows = await customersWithEmail(storeA, email);
    expect(rows.map((r) => r.id)).toEqual([winners[0]!.customer!.id]);
  });
});

describe("customerLogin", () => {
  it("signs a customer in with the right password; any wrong answer is the same INVALID_CREDENTIALS", async () => {
    const customer = await createCustomer(t.app, storeA, { firstName: "Dora" });
    const ok = (await login(`  ${customer.email.toUpperCase()}`, customer.password, storeA)).data!
      .customerLogin;
    expect(ok.userErrors).toEqual([]);
    expect(ok.customer).toMatchObject({ id: customer.id, email: customer.email, firstName: "Dora" });
    expect(await me(ok.token!)).toMatchObject({ id: customer.id });

    const wrongPassword = (await login(customer.email, `${customer.password}x`)).data!.customerLogin;
    const unknownEmail = (await login(`nobody-${unique()}@example.com`, customer.password)).data!
      .customerLogin;
    const otherStore = (await login(customer.email, customer.password, storeB)).data!.customerLogin;
    const staffAccount = (await login(staffA.email, staffA.password)).data!.customerLogin;
    for (const failed of [wrongPassword, unknownEmail, otherStore, staffAccount]) {
      expect(failed).toEqual({
        token: null,
        customer: null,
        userErrors: [
          { code: "INVALID_CREDENTIALS", message: wrongPassword.userErrors[0]!.message, field: null },
        ],
      });
    }
  });

  it("a customer token is valid only in its own store", async () => {
    const customer = await createCustomer(t.app, storeA);
    expect(await me(customer.token)).toMatchObject({ id: customer.id });
    const res = await t.app.gql(ME, {}, { token: customer.token, store: storeB.handle });
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("throttles sign-in per email: after 10 attempts in the window even the right password is RATE_LIMITED", async () => {
    const customer = await createCustomer(t.app, storeA);
    const neighbour = await createCustomer(t.app, storeA);
    // Racing attempts: the limiter counts atomically, so exactly 10 get an answer.
    const attempts = await Promise.all(
      Array.from({ length: 14 }, () => login(customer.email, "wrong password")),
    );
    const codes = attempts.map((r) => r.data!.customerLogin.userErrors[0]!.code).sort();
    expect(codes.filter((c) => c === "INVALID_CREDENTIALS")).toHaveLength(10);
    expect(codes.filter((c) => c === "RATE_LIMITED")).toHaveLength(4);
    const blocked = (await login(customer.email, customer.password)).data!.customerLogin;
    expect(blocked).toMatchObject({ token: null, userErrors: [{ code: "RATE_LIMITED" }] });
    // Other accounts, and the same email in another store, are not affected.
    expect((await login(neighbour.email, neighbour.password)).data!.customerLogin.userErrors).toEqual([]);
    const twin = await createCustomer(t.app, storeB, { email: customer.email });
    expect((await login(twin.email, twin.password, storeB)).data!.customerLogin.userErrors).toEqual([]);
  });
});

describe("staffLogin", () => {
  it("signs staff in; the token unlocks staff-only data", async () => {
    const res = (await staffLogin(staffA.email.toUpperCase(), staffA.password)).data!.staffLogin;
    expect(res.userErrors).toEqual([]);
    expect(res.staff).toEqual({ id: staffA.id, email: staffA.email, name: "Ada Owner", role: "ADMIN" });
    const caller = await t.app.runtime.services.deps.tokens.verify(res.token!, storeA.id);
    expect(caller).toEqual({ kind: "staff", staffId: staffA.id, role: "ADMIN", email: staffA.email });
    const created = await t.app.gql<{ productCreate: { userErrors: UserErrorJson[] } }>(
      `mutation ($input: ProductCreateInput!) { productCreate(input: $input) { userErrors { code } } }`,
      { input: { name: "Staff made", basePrice: 100, variants: [{ sku: unique(), title: "One" }] } },
      { token: res.token!, store: storeA.handle },
    );
    expect(created.data!.productCreate.userErrors).toEqual([]);
    // A staff member is not a customer.
    expect(await me(res.token!)).toBeNull();
  });

  it("wrong password, unknown email, a customer's credentials or another store: INVALID_CREDENTIALS", async () => {
    const customer = await createCustomer(t.app, storeA);
    const failures = [
      await staffLogin(staffA.email, "not the password"),
      await staffLogin(`ghost-${unique()}@example.com`, staffA.password),
      await staffLogin(customer.email, customer.password),
      await staffLogin(staffA.email, staffA.password, storeB),
    ];
    for (const res of failures) {
      expect(res.data!.staffLogin).toMatchObject({
        token: null,
        staff: null,
        userErrors: [{ code: "INVALID_CREDENTIALS" }],
      });
    }
  });

  it("is throttled per email like customer sign-in", async () => {
    const staff = await createStaff(t.app, storeA);
    for (let i = 0; i < 10; i++) {
      expect((await staffLogin(staff.email, `guess ${i}`)).data!.staffLogin.userErrors[0]!.code).toBe(
        "INVALID_CREDENTIALS",
      );
    }
    expect((await staffLogin(staff.email, staff.password)).data!.staffLogin.userErrors[0]!.code).toBe(
      "RATE_LIMITED",
    );
  });
});

describe("me", () => {
  it("is null for anonymous callers and the customer for a customer token", async () => {
    expect(await me(undefined)).toBeNull();
    const customer = await createCustomer(t.app, storeA, { firstName: "Eve", lastName: "Ng" });
    expect(await me(customer.token)).toEqual({
      id: customer.id,
      email: customer.email,
      firstName: "Eve",
      lastName: "Ng",
    });
    const forged = await t.app.gql(ME, {}, { token: `${customer.token}x`, store: storeA.handle });
    expect(forged.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});
