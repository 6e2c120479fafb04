/**
 * Keeping the flash-sale gate (infra StockGate) in step with PostgreSQL: after any commit that changed
 * what a variant can sell, its counter is set to PostgreSQL's figure. The counter only ever refuses
 * early (PostgreSQL re-checks every admitted checkout), and it lives STOCK_GATE_TTL_SECONDS, which
 * bounds how long a counter that fell behind a concurrent change can refuse wrongly.
 */
import type { Config } from "../../config.js";
import type { StockGate } from "../../infra/types.js";

export async function syncStockGate(
  gate: StockGate,
  config: Pick<Config, "STOCK_GATE_TTL_SECONDS">,
  storeId: string,
  available: ReadonlyMap<string, number>,
): Promise<void> {
  if (available.size === 0) return;
  await gate.set(
    storeId,
    [...available].map(([variantId, units]) => ({ variantId, available: Math.max(0, units) })),
    config.STOCK_GATE_TTL_SECONDS,
  );
}
