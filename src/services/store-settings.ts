/**
 * A store's own rules, kept in stores.settings (jsonb) and read with the store on every request.
 * Parsed in one place so every service sees the same defaults and no service reads raw json.
 */
import { z } from "zod";

/**
 * When stock is held for a shopper:
 * - "checkout" (default): at checkout, for the order, until it is paid or the reservation expires;
 * - "cart": as soon as a line is added, for `holdMinutes` after the cart's last change, so that during a
 *   drop or a flash sale shoppers learn "sold out" before they pay. Released on removal, expiry, merge
 *   and checkout (where it becomes the order's reservation).
 */
export type ReservationPolicyName = "checkout" | "cart";

/** What a fraud rule does when it matches: hold the order for a staff review, or refuse it. */
export type FraudAction = "REVIEW" | "REJECT";

/**
 * The store's fraud rules (risk/fraud-rules.ts applies them between authorisation and capture). Every
 * rule is off until set. Counts look back `windowMinutes` and match on the order's email, customer,
 * client address or card fingerprint.
 */
export interface FraudRules {
  /** An order total (minor units) above which the order is held or refused. */
  totalAbove: { amount: number; action: FraudAction } | null;
  /** More than `count` orders in the window from the same email / customer / address / card. */
  ordersInWindow: { count: number; action: FraudAction } | null;
  /** More than `count` failed payments in the window from the same email / customer / address / card. */
  failedPaymentsInWindow: { count: number; action: FraudAction } | null;
  /** Shipping country differs from the billing country. */
  countryMismatch: FraudAction | null;
  /** A customer's (or email's) first order above this total. */
  firstOrderAbove: { amount: number; action: FraudAction } | null;
  windowMinutes: number;
}

export interface StoreSettings {
  reservation: { policy: ReservationPolicyName; holdMinutes: number };
  fraud: FraudRules;
}

export const NO_FRAUD_RULES: FraudRules = {
  totalAbove: null,
  ordersInWindow: null,
  failedPaymentsInWindow: null,
  countryMismatch: null,
  firstOrderAbove: null,
  windowMinutes: 60,
};

export const DEFAULT_STORE_SETTINGS: StoreSettings = {
  reservation: { policy: "checkout", holdMinutes: 15 },
  fraud: NO_FRAUD_RULES,
};

/** True when no rule is set: the check is skipped entirely (no query, no delay). */
export function fraudRulesOff(rules: FraudRules): boolean {
  return (
    !rules.totalAbove &&
    !rules.ordersInWindow &&
    !rules.failedPaymentsInWindow &&
    !rules.countryMismatch &&
    !rules.firstOrderAbove
  );
}

const action = z.enum(["REVIEW", "REJECT"]);
const amountRule = z
  .object({ amount: z.number().int().min(0), action })
  .nullable()
  .default(null);
const countRule = z
  .object({ count: z.number().int().min(0), action })
  .nullable()
  .default(null);

const settingsSchema = z.object({
  fraud: z
    .object({
      totalAbove: amountRule,
      ordersInWindow: countRule,
      failedPaymentsInWindow: countRule,
      countryMismatch: action.nullable().default(null),
      firstOrderAbove: amountRule,
      windowMinutes: z
        .number()
        .int()
        .min(1)
        .max(60 * 24 * 30)
        .default(60),
    })
    .default(NO_FRAUD_RULES),
  reservation: z
    .object({
      policy: z.enum(["checkout", "cart"]).default("checkout"),
      holdMinutes: z
        .number()
        .int()
        .min(1)
        .max(24 * 60)
        .default(15),
    })
    .default(DEFAULT_STORE_SETTINGS.reservation),
});

/** Settings from the stored json; anything unreadable falls back to the defaults (and is not fatal). */
export function parseStoreSettings(raw: unknown): StoreSettings {
  const parsed = settingsSchema.safeParse(raw ?? {});
  return parsed.success ? parsed.data : DEFAULT_STORE_SETTINGS;
}
