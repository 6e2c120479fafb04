/** The outbox events of stock state crossings (low-stock alerts, sold out, back in stock). */
import type { OutboxEvent } from "../outbox.js";
import type { StockStateChange } from "./stock.js";

export const STOCK_STATE_CHANGED = "inventory.stock_state_changed";

export function stockStateEvents(
  storeId: string,
  changes: readonly StockStateChange[],
  at: Date,
): OutboxEvent[] {
  return changes.map((c) => ({
    storeId,
    topic: STOCK_STATE_CHANGED,
    key: c.variantId,
    payload: {
      variantId: c.variantId,
      from: c.from,
      to: c.to,
      available: c.available,
      threshold: c.threshold,
      at: at.toISOString(),
    },
  }));
}
