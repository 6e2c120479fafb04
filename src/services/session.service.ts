/**
 * Who a bearer token speaks for right now. A valid signature is not enough: the account behind a
 * customer or staff token must still exist, and must not have signed out since the token was issued
 * (its session epoch moved on). The answer per account is kept for AUTH_CHECK_CACHE_SECONDS, so a
 * deleted account or a sign-out takes effect on every instance within that time, at the cost of one
 * small query per account per period rather than one per request.
 */
import { and, eq, sql } from "drizzle-orm";
import { customers, staffUsers } from "../db/schema.js";
import type { Caller, ServiceContext, StaffRole } from "./context.js";
import type { ServiceDeps } from "./deps.js";
import { ForbiddenError, UnauthenticatedError } from "./errors.js";
import { TokenError } from "./tokens.js";

interface AccountState {
  epoch: number;
  email: string;
  role: StaffRole | null;
}

/**
 * At most this many accounts' answers (~0.9 KB each with its key and promise: ~8 MiB full). An answer
 * older than AUTH_CHECK_CACHE_SECONDS is never used again, so it is dropped as well: the cache holds
 * the accounts seen within that time, not the last 10,000 ever seen.
 */
export const MAX_ACCOUNTS_CACHED = 10_000;

export class SessionService {
  private readonly accounts = new Map<string, { at: number; state: Promise<AccountState | null> }>();

  constructor(private readonly deps: ServiceDeps) {}

  /** The live caller for a token presented to `storeId`; TokenError when it no longer speaks for anyone. */
  async callerFor(token: string, storeId: string): Promise<Caller> {
    return (await this.session(token, storeId)).caller;
  }

  /** The live caller and when its token runs out (a WebSocket ends its subscriptions then). */
  async session(token: string, storeId: string): Promise<{ caller: Caller; expiresAt: Date }> {
    const verified = await this.deps.tokens.verifyToken(token, storeId);
    const expiresAt = new Date(verified.expiresAt * 1000);
    return { caller: await this.live(verified.caller, verified.sessionEpoch, storeId), expiresAt };
  }

  private async live(caller: Caller, sessionEpoch: number, storeId: string): Promise<Caller> {
    if (caller.kind !== "customer" && caller.kind !== "staff") return caller;
    const account = await this.account(storeId, caller);
    if (!account) throw new TokenError("The account of this token no longer exists");
    if (account.epoch !== sessionEpoch) throw new TokenError("Signed out: sign in again");
    // The database, not the token, has the last word on email and role.
    if (caller.kind === "staff")
      return { ...caller, email: account.email, role: account.role ?? caller.role };
    return { ...caller, email: account.email };
  }

  /** The account's current session epoch, to put into a token being issued. */
  async epochOf(storeId: string, caller: Extract<Caller, { kind: "customer" | "staff" }>): Promise<number> {
    return (await this.account(storeId, caller, true))?.epoch ?? 0;
  }

  /** Ends every token of the caller's account (all devices), at once on this instance. */
  async signOut(ctx: ServiceContext): Promise<void> {
    const { caller } = ctx;
    if (caller.kind === "customer") {
      await this.deps.db
        .update(customers)
        .set({ sessionEpoch: sql`${customers.sessionEpoch} + 1` })
        .where(and(eq(customers.storeId, ctx.store.id), eq(customers.id, caller.customerId)));
    } else if (caller.kind === "staff") {
      await this.deps.db
        .update(staffUsers)
        .set({ sessionEpoch: sql`${staffUsers.sessionEpoch} + 1` })
        .where(and(eq(staffUsers.storeId, ctx.store.id), eq(staffUsers.id, caller.staffId)));
    } else if (caller.kind === "guest") {
      throw new ForbiddenError("A guest session has no account to sign out of: discard its token");
    } else {
      throw new UnauthenticatedError("Sign in first");
    }
    this.accounts.delete(this.key(ctx.store.id, caller));
  }

  private key(storeId: string, caller: Extract<Caller, { kind: "customer" | "staff" }>): string {
    return caller.kind === "customer"
      ? `c:${storeId}:${caller.customerId}`
      : `s:${storeId}:${caller.staffId}`;
  }

  private account(
    storeId: string,
    caller: Extract<Caller, { kind: "customer" | "staff" }>,
    fresh = false,
  ): Promise<AccountState | null> {
    const key = this.key(storeId, caller);
    const now = Date.now();
    const hit = this.accounts.get(key);
    const ttlMs = this.deps.config.AUTH_CHECK_CACHE_SECONDS * 1000;
    if (!fresh && hit && now - hit.at < ttlMs) return hit.state;
    const state = this.load(storeId, caller);
    // Deleted first so that the Map's order stays the order of `at`: the oldest answers come first.
    this.accounts.delete(key);
    for (const [oldest, entry] of this.accounts) {
      if (this.accounts.size < MAX_ACCOUNTS_CACHED && now - entry.at < ttlMs) break;
      this.accounts.delete(oldest);
    }
    const entry = { at: now, state };
    this.accounts.set(key, entry);
    // A failed lookup is not an answer: the next request asks again (unless a newer one is under way).
    state.catch(() => {
      if (this.accounts.get(key) === entry) this.accounts.delete(key);
    });
    return state;
  }

  private async load(
    storeId: string,
    caller: Extract<Caller, { kind: "customer" | "staff" }>,
  ): Promise<AccountState | null> {
    if (caller.kind === "customer") {
      const [row] = await this.deps.db
        .select({ epoch: customers.sessionEpoch, email: customers.email })
        .from(customers)
        .where(and(eq(customers.storeId, storeId), eq(customers.id, caller.customerId)));
      return row ? { ...row, role: null } : null;
    }
    const [row] = await this.deps.db
      .select({ epoch: staffUsers.sessionEpoch, email: staffUsers.email, role: staffUsers.role })
      .from(staffUsers)
      .where(and(eq(staffUsers.storeId, storeId), eq(staffUsers.id, caller.staffId)));
    return row ?? null;
  }
}
