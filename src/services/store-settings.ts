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

export interface StoreSettings {
  reservation: { policy: ReservationPolicyName; holdMinutes: number };
}

export const DEFAULT_STORE_SETTINGS: StoreSettings = {
  reservation: { policy: "checkout", holdMinutes: 15 },
};

const settingsSchema = z.object({
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
