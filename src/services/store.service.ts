/**
 * Resolves the store of each request. Stores change rarely and are read on every request, so they are
 * kept in process for a short time.
 */
import { asc, eq } from "drizzle-orm";
import { stores } from "../db/schema.js";
import { assertStaff } from "./authz.js";
import type { ServiceContext, StoreRef } from "./context.js";
import type { ServiceDeps } from "./deps.js";
import { ErrorCode, ForbiddenError, UnknownStoreError, userError } from "./errors.js";
import { canonicalLocale } from "./money-format.js";
import {
  type FraudRules,
  NO_FRAUD_RULES,
  parseStoreSettings,
  type ReservationPolicyName,
  type StoreSettings,
} from "./store-settings.js";

const storeColumns = {
  id: stores.id,
  handle: stores.handle,
  name: stores.name,
  currency: stores.currency,
  locale: stores.locale,
  settings: stores.settings,
};

function toStoreRef(row: {
  id: string;
  handle: string;
  name: string;
  currency: string;
  locale: string;
  settings: unknown;
}): StoreRef {
  return { ...row, settings: parseStoreSettings(row.settings) };
}

export interface StoreSettingsInput {
  /** A BCP 47 tag; stored in its canonical form. */
  locale?: string | null;
  reservationPolicy?: ReservationPolicyName | null;
  cartHoldMinutes?: number | null;
  /** Replaces every fraud rule when given (an omitted rule is off). */
  fraudRules?: Partial<FraudRules> | null;
}

const STORE_CACHE_MS = 30_000;

export class StoreService {
  private readonly byHandle = new Map<string, { store: StoreRef; at: number }>();
  private readonly byId = new Map<string, { store: StoreRef; at: number }>();
  private defaultHandle: { handle: string; at: number } | null = null;

  constructor(private readonly deps: ServiceDeps) {}

  /** The store named by the `x-store` header, or the default store when absent. */
  async resolve(handle: string | undefined | null): Promise<StoreRef> {
    const wanted = handle?.trim().toLowerCase() || (await this.defaultStoreHandle());
    const hit = this.byHandle.get(wanted);
    if (hit && Date.now() - hit.at < STORE_CACHE_MS) return hit.store;
    const [row] = await this.deps.db
      .select(storeColumns)
      .from(stores)
      .where(eq(stores.handle, wanted))
      .limit(1);
    if (!row) throw new UnknownStoreError(wanted);
    const store = toStoreRef(row);
    this.remember(store);
    return store;
  }

  /**
   * A store's settings by id, for work that has no request (jobs, webhooks, the saga resumed):
   * cached like `resolve`, so the hot path does not read the store row again.
   */
  async settingsOf(storeId: string): Promise<StoreSettings> {
    const hit = this.byId.get(storeId);
    if (hit && Date.now() - hit.at < STORE_CACHE_MS) return hit.store.settings ?? parseStoreSettings({});
    const [row] = await this.deps.db.select(storeColumns).from(stores).where(eq(stores.id, storeId)).limit(1);
    if (!row) throw new UnknownStoreError(storeId);
    const store = toStoreRef(row);
    this.remember(store);
    return store.settings ?? parseStoreSettings({});
  }

  private remember(store: StoreRef): void {
    const entry = { store, at: Date.now() };
    this.byHandle.set(store.handle, entry);
    this.byId.set(store.id, entry);
  }

  /** DEFAULT_STORE if configured, else the oldest store ("demo" in the embedded setup). */
  private async defaultStoreHandle(): Promise<string> {
    const configured = this.deps.config.DEFAULT_STORE;
    if (configured) return configured;
    if (this.defaultHandle && Date.now() - this.defaultHandle.at < STORE_CACHE_MS)
      return this.defaultHandle.handle;
    const [row] = await this.deps.db
      .select({ handle: stores.handle })
      .from(stores)
      .orderBy(asc(stores.createdAt), asc(stores.handle))
      .limit(1);
    if (!row) throw new UnknownStoreError("(default)");
    this.defaultHandle = { handle: row.handle, at: Date.now() };
    return row.handle;
  }

  async create(input: {
    handle: string;
    name: string;
    currency: string;
    locale?: string;
  }): Promise<StoreRef> {
    const values = input.locale === undefined ? input : { ...input, locale: checkLocale(input.locale) };
    const [row] = await this.deps.db.insert(stores).values(values).returning(storeColumns);
    if (!row) throw new Error("store insert returned nothing");
    return toStoreRef(row);
  }

  /**
   * Staff (owner or admin): changes the store's rules. Other instances see the change within their
   * store cache time (30 s); this one at once.
   */
  async updateSettings(ctx: ServiceContext, input: StoreSettingsInput): Promise<StoreRef> {
    assertStaff(ctx.caller);
    if (ctx.caller.role === "STAFF")
      throw new ForbiddenError("Only an owner or admin can change store settings");
    const minutes = input.cartHoldMinutes;
    if (
      minutes !== undefined &&
      minutes !== null &&
      (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440)
    ) {
      throw userError(ErrorCode.INVALID_INPUT, "cartHoldMinutes must be an integer from 1 to 1440", {
        field: ["input", "cartHoldMinutes"],
      });
    }
    const locale = input.locale === undefined || input.locale === null ? null : checkLocale(input.locale);
    const fraud = input.fraudRules ? checkFraudRules({ ...NO_FRAUD_RULES, ...input.fraudRules }) : null;
    // Read-modify-write under the row lock: two staff changing different settings both keep theirs.
    const row = await this.deps.db.transaction(async (tx) => {
      const [locked] = await tx
        .select(storeColumns)
        .from(stores)
        .where(eq(stores.id, ctx.store.id))
        .for("update");
      if (!locked) return undefined;
      const current = parseStoreSettings(locked.settings);
      const next: StoreSettings = {
        ...current,
        reservation: {
          policy: input.reservationPolicy ?? current.reservation.policy,
          holdMinutes: minutes ?? current.reservation.holdMinutes,
        },
        fraud: fraud ?? current.fraud,
      };
      const [updated] = await tx
        .update(stores)
        .set({ settings: next as unknown as Record<string, unknown>, ...(locale ? { locale } : {}) })
        .where(eq(stores.id, ctx.store.id))
        .returning(storeColumns);
      return updated;
    });
    if (!row) throw new UnknownStoreError(ctx.store.handle);
    const store = toStoreRef(row);
    this.remember(store);
    return store;
  }
}

/** The tag in its canonical form, or INVALID_INPUT when Intl cannot format money in it. */
function checkLocale(tag: string): string {
  const locale = canonicalLocale(tag);
  if (!locale) {
    throw userError(
      ErrorCode.INVALID_INPUT,
      `"${tag.slice(0, 64)}" is not a BCP 47 language tag this server can format money in; use one like en-US, de-DE or ja-JP`,
      { field: ["input", "locale"] },
    );
  }
  return locale;
}

/** Fraud rules as given, or INVALID_INPUT naming the first field that makes no sense. */
function checkFraudRules(rules: FraudRules): FraudRules {
  const bad = (field: string, message: string) =>
    userError(ErrorCode.INVALID_INPUT, message, { field: ["input", "fraudRules", field] });
  for (const name of ["totalAbove", "firstOrderAbove"] as const) {
    const rule = rules[name];
    if (rule && (!Number.isInteger(rule.amount) || rule.amount < 0 || rule.amount > 1_000_000_000)) {
      throw bad(name, `${name}.amount must be an integer from 0 to 1000000000 (minor units)`);
    }
  }
  for (const name of ["ordersInWindow", "failedPaymentsInWindow"] as const) {
    const rule = rules[name];
    if (rule && (!Number.isInteger(rule.count) || rule.count < 0 || rule.count > 100_000)) {
      throw bad(name, `${name}.count must be an integer from 0 to 100000`);
    }
  }
  if (!Number.isInteger(rules.windowMinutes) || rules.windowMinutes < 1 || rules.windowMinutes > 43_200) {
    throw bad("windowMinutes", "windowMinutes must be an integer from 1 to 43200");
  }
  return rules;
}
