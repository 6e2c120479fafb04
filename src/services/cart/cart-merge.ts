/**
 * What happens to a guest cart's lines when its owner signs in: a policy behind a small interface so the
 * rule is easy to find and to swap. The default sums matching lines, caps them at what can be sold and
 * keeps each line's captured price. The merged cart obeys every limit a direct add obeys (lines per
 * cart, units per line, value of goods): what does not fit stays out, with a notice.
 */
import type { CartNoticeJson } from "../../db/schema.js";
import { ErrorCode } from "../errors.js";
import { MAX_ORDER_SUBTOTAL } from "../money-bounds.js";
import type { SellableVariant } from "./cart.repository.js";
import { type CartLineRecord, MAX_CART_LINES, MAX_LINE_QUANTITY } from "./cart.types.js";
import { lineOptionsHash } from "./line-options.js";

export interface MergePlan {
  /** Existing customer-cart lines whose quantity changes. */
  updates: { lineId: string; quantity: number }[];
  /** Guest lines that become new customer-cart lines (captured price kept). */
  inserts: { source: CartLineRecord; quantity: number }[];
  notices: CartNoticeJson[];
}

export interface CartMergePolicy {
  plan(
    guestLines: CartLineRecord[],
    customerLines: CartLineRecord[],
    variants: Map<string, SellableVariant>,
  ): MergePlan;
}

const lineKey = (l: CartLineRecord) => `${l.variantId}|${lineOptionsHash(l.customOptions)}`;

export const sumAndCapMergePolicy: CartMergePolicy = {
  plan(guestLines, customerLines, variants) {
    const plan: MergePlan = { updates: [], inserts: [], notices: [] };
    const byKey = new Map(customerLines.map((l) => [lineKey(l), l]));
    // Units of each variant already committed to the customer cart, across option keys.
    const inCart = new Map<string, number>();
    for (const l of customerLines) inCart.set(l.variantId, (inCart.get(l.variantId) ?? 0) + l.quantity);
    let lineCount = customerLines.length;
    let subtotal = customerLines.reduce((sum, l) => sum + l.unitPrice * l.quantity, 0);

    for (const guest of guestLines) {
      const variant = variants.get(guest.variantId);
      const existing = byKey.get(lineKey(guest));
      if (!variant?.productActive) {
        plan.notices.push({
          code: ErrorCode.VARIANT_UNAVAILABLE,
          message: `An item from your guest cart (${variant?.sku ?? "no longer sold"}) is no longer available`,
          lineId: existing?.id ?? null,
        });
        continue;
      }
      if (!existing && lineCount >= MAX_CART_LINES) {
        plan.notices.push({
          code: ErrorCode.CART_LIMIT_REACHED,
          message: `${variant.sku} could not be added from your guest cart: a cart holds at most ${MAX_CART_LINES} lines`,
          lineId: null,
        });
        continue;
      }
      const already = inCart.get(guest.variantId) ?? 0;
      const room = Math.max(
        0,
        Math.min(variant.available - already, MAX_LINE_QUANTITY - (existing?.quantity ?? 0)),
      );
      const affordable =
        guest.unitPrice > 0 ? Math.floor((MAX_ORDER_SUBTOTAL - subtotal) / guest.unitPrice) : guest.quantity;
      if (affordable < Math.min(guest.quantity, room)) {
        plan.notices.push({
          code: ErrorCode.CART_LIMIT_REACHED,
          message: `${variant.sku} was left out of the merge: the cart would exceed its value limit`,
          lineId: existing?.id ?? null,
        });
        continue;
      }
      const added = Math.min(guest.quantity, room);
      if (added < guest.quantity) {
        plan.notices.push({
          code: ErrorCode.INSUFFICIENT_STOCK,
          message:
            added === 0
              ? `${variant.sku} could not be added from your guest cart: not enough stock`
              : `${variant.sku} was capped at ${already + added} from your guest cart: not enough stock`,
          lineId: existing?.id ?? null,
        });
      }
      if (added === 0) continue;
      inCart.set(guest.variantId, already + added);
      subtotal += guest.unitPrice * added;
      if (!existing) lineCount++;
      if (existing) {
        const quantity = existing.quantity + added;
        byKey.set(lineKey(guest), { ...existing, quantity });
        const pending = plan.updates.find((u) => u.lineId === existing.id);
        if (pending) pending.quantity = quantity;
        else plan.updates.push({ lineId: existing.id, quantity });
      } else {
        plan.inserts.push({ source: guest, quantity: added });
      }
    }
    return plan;
  },
};
