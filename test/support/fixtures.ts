/**
 * Test data through the real services (or, for staff accounts, which have no public sign-up, one
 * insert). Every helper makes unique handles/emails/SKUs, so tests in one file never collide.
 */
import { randomBytes } from "node:crypto";
import { orders, staffUsers } from "../../src/db/schema.js";
import type {
  CreatedProduct,
  ProductCreateInput,
  VariantCreateInput,
} from "../../src/services/catalog.service.js";
import type { Caller, ServiceContext, StaffRole, StoreRef } from "../../src/services/context.js";
import { hashPassword } from "../../src/services/password.js";
import { TEST_PASSWORD_COST, type TestApp } from "./test-app.js";

/** A short random tag for unique names: `sku-${unique()}`. */
export function unique(): string {
  return randomBytes(4).toString("hex");
}

/** A service context as a request would build it (for calling services directly). */
export function serviceContext(store: StoreRef, caller: Caller = { kind: "anonymous" }): ServiceContext {
  return { store, caller, requestId: `test-${unique()}` };
}

/** A staff caller that exists only in memory: for seeding data through staff-only services. */
export const fixtureStaff: Caller = {
  kind: "staff",
  staffId: "fixtures",
  role: "OWNER",
  email: "fixtures@test",
};

export async function createStore(
  app: TestApp,
  opts: { handle?: string; name?: string; currency?: string } = {},
): Promise<StoreRef> {
  const handle = opts.handle ?? `store-${unique()}`;
  return app.runtime.services.stores.create({
    handle,
    name: opts.name ?? `Store ${handle}`,
    currency: opts.currency ?? "USD",
  });
}

export interface TestStaff {
  id: string;
  email: string;
  password: string;
  role: StaffRole;
  /** A staff bearer token for `store`. */
  token: string;
  caller: Extract<Caller, { kind: "staff" }>;
}

export async function createStaff(
  app: TestApp,
  store: StoreRef,
  opts: { email?: string; password?: string; role?: StaffRole; name?: string } = {},
): Promise<TestStaff> {
  const email = (opts.email ?? `staff-${unique()}@test.example`).toLowerCase();
  const password = opts.password ?? `pw-${unique()}-${unique()}`;
  const role = opts.role ?? "OWNER";
  const [row] = await app.runtime.database.db
    .insert(staffUsers)
    .values({
      storeId: store.id,
      email,
      passwordHash: await hashPassword(password, TEST_PASSWORD_COST),
      name: opts.name ?? "Test Staff",
      role,
    })
    .returning({ id: staffUsers.id });
  if (!row) throw new Error("staff insert returned nothing");
  const token = await app.runtime.services.deps.tokens.sign({
    typ: "staff",
    sub: row.id,
    store: store.id,
    email,
    role,
    ep: 0,
  });
  return {
    id: row.id,
    email,
    password,
    role,
    token,
    caller: { kind: "staff", staffId: row.id, role, email },
  };
}

export interface TestCustomer {
  id: string;
  email: string;
  password: string;
  token: string;
  caller: Extract<Caller, { kind: "customer" }>;
}

/** Registers a customer through the identity service (the same path as customerRegister). */
export async function createCustomer(
  app: TestApp,
  store: StoreRef,
  opts: { email?: string; password?: string; firstName?: string; lastName?: string } = {},
): Promise<TestCustomer> {
  const password = opts.password ?? `pw-${unique()}-${unique()}`;
  const { token, customer } = await app.runtime.services.identity.registerCustomer(serviceContext(store), {
    email: opts.email ?? `customer-${unique()}@test.example`,
    password,
    firstName: opts.firstName,
    lastName: opts.lastName,
  });
  return {
    id: customer.id,
    email: customer.email,
    password,
    token,
    caller: { kind: "customer", customerId: customer.id, email: customer.email },
  };
}

export interface TestGuest {
  sessionId: string;
  token: string;
  caller: Extract<Caller, { kind: "guest" }>;
}

export async function createGuest(app: TestApp, store: StoreRef): Promise<TestGuest> {
  const { token } = await app.runtime.services.identity.createGuestSession(serviceContext(store));
  const caller = await app.runtime.services.deps.tokens.verify(token, store.id);
  if (caller.kind !== "guest") throw new Error("guest token did not verify as a guest");
  return { sessionId: caller.sessionId, token, caller };
}

/**
 * Creates a product through the catalog service. Defaults: ACTIVE, base price 1000, one variant
 * "Default" with 10 on hand. Pass `variants` to shape them; SKUs default to unique ones.
 */
export async function createProduct(
  app: TestApp,
  store: StoreRef,
  input: Partial<Omit<ProductCreateInput, "variants">> & { variants?: Partial<VariantCreateInput>[] } = {},
): Promise<CreatedProduct> {
  const tag = unique();
  const variants = (input.variants ?? [{}]).map((v, i) => ({
    sku: `SKU-${tag}-${i}`,
    title: `Variant ${i}`,
    stockOnHand: 10,
    ...v,
  }));
  return app.runtime.services.catalog.createProduct(serviceContext(store, fixtureStaff), {
    name: `Product ${tag}`,
    basePrice: 1000,
    ...input,
    variants,
  });
}

/**
 * A bare PENDING order row (no items): for tests of what hangs off an order (e.g. discount redemptions)
 * without running a checkout. Number and idempotency key are unique.
 */
export async function createOrderRow(
  app: TestApp,
  store: StoreRef,
  opts: { customerId?: string | null; email?: string | null; total?: number } = {},
): Promise<{ id: string }> {
  const tag = unique();
  const [row] = await app.runtime.database.db
    .insert(orders)
    .values({
      storeId: store.id,
      number: `T-${tag}`,
      customerId: opts.customerId ?? null,
      email: opts.email ?? (opts.customerId ? null : `order-${tag}@test.example`),
      subtotal: opts.total ?? 1000,
      total: opts.total ?? 1000,
      currency: store.currency,
      idempotencyKey: `test-${tag}`,
    })
    .returning({ id: orders.id });
  if (!row) throw new Error("order insert returned nothing");
  return row;
}
