/**
 * Sold units leave on hand and reserved at settlement (src/services/inventory/settlement.ts), which the
 * server runs on an interval and the test app does not: tests that read the variant's raw counters
 * settle first, as the job would have by then.
 */
import type { Executor } from "../../src/db/client.js";
import { settleSales } from "../../src/services/inventory/settlement.js";

export async function settleStock(db: Executor): Promise<number> {
  let settled = 0;
  for (;;) {
    const batch = await settleSales(db, { limit: 1000 }, new Date());
    if (batch.refused.length) throw new Error(`settlement refused for ${batch.refused.join(", ")}`);
    if (batch.busy.length)
      throw new Error(`variants held while settling: ${batch.busy.map((b) => b.variantId)}`);
    settled += batch.settled;
    if (batch.settled < 1000) return settled;
  }
}
