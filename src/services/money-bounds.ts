/**
 * The bounds that keep every figure representable. Money travels as a GraphQL Int (32-bit signed,
 * at most 2,147,483,647) and is stored in int4 columns, so instead of discovering an overflow after a
 * commit, every input that can grow a figure is held to a bound BEFORE anything is written:
 *
 *   unit price          <= MAX_UNIT_PRICE        (1,000,000.00 in a two-decimal currency)
 *   cart/order subtotal <= MAX_ORDER_SUBTOTAL    (5,000,000.00)
 *   shipping rate       <= MAX_SHIPPING_RATE     (1,000,000.00)
 *   tax                 <= 100 % of (subtotal - discount + shipping)
 * so any total is at most (5e8 + 1e8) x 2 = 1.2e9 < 2^31 - 1, and every line figure is smaller still.
 * Stock is held below MAX_STOCK the same way (a conditional UPDATE refuses the excess).
 */
import { ErrorCode, userError } from "./errors.js";
import type { MoneyText } from "./money-format.js";

export const MAX_UNIT_PRICE = 100_000_000;
export const MAX_ORDER_SUBTOTAL = 500_000_000;
export const MAX_SHIPPING_RATE = 100_000_000;
export const MAX_STOCK = 1_000_000_000;

/** Refuses a change that would take a cart (or an order being placed) past the subtotal bound. */
export function assertOrderSubtotal(subtotal: number, field: string[], money: MoneyText): void {
  if (subtotal > MAX_ORDER_SUBTOTAL) {
    throw userError(
      ErrorCode.CART_LIMIT_REACHED,
      `A cart may hold at most ${money(MAX_ORDER_SUBTOTAL)} of goods; this would make ${money(subtotal)}`,
      { field, requiredAmount: MAX_ORDER_SUBTOTAL },
    );
  }
}
