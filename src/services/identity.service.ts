/**
 * Who a caller is: guest sessions, customer accounts (register, sign in) and staff sign-in. Every
 * answer to a failed sign-in is the same INVALID_CREDENTIALS, and an unknown email costs one password
 * verification like a known one, so neither the message nor the timing tells which emails exist.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { customers, staffUsers } from "../db/schema.js";
import type { ServiceContext, StaffRole } from "./context.js";
import type { ServiceDeps } from "./deps.js";
import { ErrorCode, userError } from "./errors.js";
import { hashPassword, verifyPassword } from "./password.js";
import { isUniqueViolation } from "./pg-errors.js";
import { SignInThrottle } from "./sign-in-throttle.js";
import { normalizeEmail } from "./validation.js";

export interface CustomerRecord {
  id: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  createdAt: Date;
}

export interface StaffRecord {
  id: string;
  email: string;
  name: string;
  role: StaffRole;
}

export interface CustomerRegisterInput {
  email: string;
  password: string;
  firstName?: string | null;
  lastName?: string | null;
  /** A guest cart to take over; merging is the cart service's job (see the resolver). */
  guestCartId?: string | null;
}

export interface Credentials {
  email: string;
  password: string;
}

export interface CustomerAuth {
  token: string;
  customer: CustomerRecord;
}

export interface StaffAuth {
  token: string;
  staff: StaffRecord;
}

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 200;

const customerColumns = {
  id: customers.id,
  email: customers.email,
  firstName: customers.firstName,
  lastName: customers.lastName,
  createdAt: customers.createdAt,
};

function optionalName(value: string | null | undefined, field: string[]): string | null {
  const trimmed = value?.trim() ?? "";
  if (trimmed.length > 100)
    throw userError(ErrorCode.INVALID_INPUT, `${field.at(-1)} is too long`, { field });
  return trimmed || null;
}

const invalidCredentials = () => userError(ErrorCode.INVALID_CREDENTIALS, "Email or password is incorrect");

export class IdentityService {
  /** A hash of nothing, verified against for unknown emails so that they take as long as known ones. */
  private dummyHash: Promise<string> | undefined;
  private readonly throttle: SignInThrottle;

  constructor(private readonly deps: ServiceDeps) {
    this.throttle = new SignInThrottle(deps.infra.rateLimiter, deps.config);
  }

  /** A new anonymous shopper: the token's subject is the session id that owns guest carts. */
  async createGuestSession(ctx: ServiceContext): Promise<{ token: string }> {
    const token = await this.deps.tokens.sign({ typ: "guest", sub: randomUUID(), store: ctx.store.id });
    return { token };
  }

  async registerCustomer(ctx: ServiceContext, input: CustomerRegisterInput): Promise<CustomerAuth> {
    const email = normalizeEmail(input.email, ["input", "email"]);
    if (input.password.length < PASSWORD_MIN_LENGTH || input.password.length > PASSWORD_MAX_LENGTH) {
      throw userError(
        ErrorCode.INVALID_INPUT,
        `Password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`,
        { field: ["input", "password"] },
      );
    }
    const firstName = optionalName(input.firstName, ["input", "firstName"]);
    const lastName = optionalName(input.lastName, ["input", "lastName"]);
    // Hashing is deliberately expensive: registrations count against the client like sign-ins do.
    await this.throttle.attempt(ctx, `register:${email}`);
    const passwordHash = await hashPassword(input.password, this.deps.passwordCost);
    let customer: CustomerRecord | undefined;
    try {
      // The unique key decides a race between two registrations of one email: no read-then-write.
      [customer] = await this.deps.db
        .insert(customers)
        .values({ storeId: ctx.store.id, email, passwordHash, firstName, lastName })
        .returning(customerColumns);
    } catch (e) {
      if (isUniqueViolation(e, "customers_store_email_key")) {
        throw userError(ErrorCode.EMAIL_TAKEN, "An account with this email already exists", {
          field: ["input", "email"],
        });
      }
      throw e;
    }
    if (!customer) throw new Error("customer insert returned nothing");
    return { token: await this.customerToken(ctx, customer, 0), customer };
  }

  async loginCustomer(ctx: ServiceContext, input: Credentials): Promise<CustomerAuth> {
    const email = normalizeEmail(input.email, ["email"]);
    await this.throttle.attempt(ctx, `customer:${email}`);
    const [row] = await this.deps.db
      .select({
        ...customerColumns,
        passwordHash: customers.passwordHash,
        sessionEpoch: customers.sessionEpoch,
      })
      .from(customers)
      .where(and(eq(customers.storeId, ctx.store.id), eq(customers.email, email)));
    const { passwordHash, sessionEpoch, ...customer } = await this.checkPassword(row, input.password);
    return { token: await this.customerToken(ctx, customer, sessionEpoch), customer };
  }

  async loginStaff(ctx: ServiceContext, input: Credentials): Promise<StaffAuth> {
    const email = normalizeEmail(input.email, ["email"]);
    await this.throttle.attempt(ctx, `staff:${email}`);
    const [row] = await this.deps.db
      .select({
        id: staffUsers.id,
        email: staffUsers.email,
        name: staffUsers.name,
        role: staffUsers.role,
        passwordHash: staffUsers.passwordHash,
        sessionEpoch: staffUsers.sessionEpoch,
      })
      .from(staffUsers)
      .where(and(eq(staffUsers.storeId, ctx.store.id), eq(staffUsers.email, email)));
    const { passwordHash, sessionEpoch, ...staff } = await this.checkPassword(row, input.password);
    const token = await this.deps.tokens.sign({
      typ: "staff",
      sub: staff.id,
      store: ctx.store.id,
      email: staff.email,
      role: staff.role,
      ep: sessionEpoch,
    });
    return { token, staff };
  }

  /** The signed-in customer, or null for anyone else (and for an account that no longer exists). */
  async me(ctx: ServiceContext): Promise<CustomerRecord | null> {
    if (ctx.caller.kind !== "customer") return null;
    const [row] = await this.deps.db
      .select(customerColumns)
      .from(customers)
      .where(and(eq(customers.storeId, ctx.store.id), eq(customers.id, ctx.caller.customerId)));
    return row ?? null;
  }

  private customerToken(
    ctx: ServiceContext,
    customer: CustomerRecord,
    sessionEpoch: number,
  ): Promise<string> {
    return this.deps.tokens.sign({
      typ: "customer",
      sub: customer.id,
      store: ctx.store.id,
      email: customer.email,
      ep: sessionEpoch,
    });
  }

  private async checkPassword<T extends { passwordHash: string }>(
    row: T | undefined,
    password: string,
  ): Promise<T> {
    if (password.length > PASSWORD_MAX_LENGTH) throw invalidCredentials();
    const hash = row?.passwordHash ?? (await this.hashOfNothing());
    const matches = await verifyPassword(password, hash);
    if (!row || !matches) throw invalidCredentials();
    return row;
  }

  private hashOfNothing(): Promise<string> {
    this.dummyHash ??= hashPassword(randomBytes(16).toString("base64url"), this.deps.passwordCost);
    return this.dummyHash;
  }
}
