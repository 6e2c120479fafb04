/**
 * flash-sale: --flash-buyers guests (500), each with a ready cart holding 1 unit of ONE variant whose
 * stock is --flash-stock (50), send checkoutComplete at the same moment over connections opened
 * beforehand. Measured: drain time, from the first request sent to the last response. Checked (the run
 * fails unless it holds): exactly `stock` orders CONFIRMED, every other buyer refused with
 * INSUFFICIENT_STOCK, and the variant ends with stock 0 and reserved 0.
 */

import { RUN_TAG } from "./checkout-scenarios.js";
import type { BenchContext } from "./context.js";
import { type LatencySummary, summarize } from "./load.js";
import { type CpuCores, CpuMeter, type ProcessGroups } from "./process-stats.js";
import {
  adjustStock,
  type CheckoutPayloadShape,
  checkoutVariables,
  mapLimit,
  Q_CHECKOUT,
  ReadyCartBuilder,
  variantStock,
} from "./shop-api.js";

export interface FlashSaleResult {
  name: "flash-sale";
  buyers: number;
  stock: number;
  sku: string;
  setupSeconds: number;
  /** First request sent -> last response, ms. */
  drainMs: number;
  /** Per request, send -> response. */
  latencyMs: LatencySummary;
  confirmed: number;
  /** Outcomes other than CONFIRMED, by kind (INSUFFICIENT_STOCK expected). */
  refusals: Record<string, number>;
  final: { stockOnHand: number; reserved: number };
  cpuCores: CpuCores;
  passed: boolean;
  /** Why it failed, when it did. */
  failures: string[];
}

export async function runFlashSale(ctx: BenchContext, processes: ProcessGroups): Promise<FlashSaleResult> {
  const { client, opts } = ctx;
  const buyers = opts.flashBuyers;
  const stock = opts.flashStock;
  const setupStarted = performance.now();
  const staff = await ctx.staffToken();
  const variant = (await ctx.variants()).flash;
  // Carts do not hold stock, so every buyer can put the unit in a cart while there is any.
  const before = await variantStock(client, staff, variant.id);
  if (before.reserved !== 0) {
    throw new Error(`flash-sale: ${variant.sku} has ${before.reserved} units reserved by earlier orders`);
  }
  if (before.stockOnHand === 0) await adjustStock(client, staff, variant, 1);
  const builder = new ReadyCartBuilder(client);
  const carts = await mapLimit(Array.from({ length: buyers }), 16, (_, i) =>
    builder.build([{ variantId: variant.id, quantity: 1 }], `flash-${i}@bench.example`),
  );
  await adjustStock(
    client,
    staff,
    variant,
    stock - (await variantStock(client, staff, variant.id)).stockOnHand,
  );

  // One connection per buyer, opened (and warmed) before the sale so that the burst is the requests.
  const burst = ctx.newClient(buyers);
  await Promise.all(carts.map(() => burst.post("{ __typename }", {})));
  const bodies = carts.map((cart, i) => checkoutVariables(cart.cartId, `bench-${RUN_TAG}-flash-${i}`));
  const setupSeconds = Math.round((performance.now() - setupStarted) / 100) / 10;

  const meter = new CpuMeter(processes);
  meter.begin();
  const firstSent = performance.now();
  const answers = await Promise.all(
    carts.map(async (cart, i) => {
      const sent = performance.now();
      try {
        const res = await burst.post<CheckoutPayloadShape>(Q_CHECKOUT, bodies[i]!, cart.token);
        return { ms: performance.now() - sent, at: performance.now(), res };
      } catch (e) {
        return { ms: performance.now() - sent, at: performance.now(), error: String(e) };
      }
    }),
  );
  const lastAnswer = Math.max(...answers.map((a) => a.at));
  const cpuCores = meter.end();
  burst.close();

  let confirmed = 0;
  const refusals: Record<string, number> = {};
  const count = (kind: string) => {
    refusals[kind] = (refusals[kind] ?? 0) + 1;
  };
  for (const a of answers) {
    if ("error" in a) {
      count(`TRANSPORT: ${a.error}`);
      continue;
    }
    const { res } = a;
    if (res.status !== 200) count(`HTTP_${res.status}`);
    else if (res.errors[0]) count(res.errors[0].extensions?.code ?? "GRAPHQL_ERROR");
    else {
      const payload = res.data?.checkoutComplete;
      if (payload?.order?.status === "CONFIRMED" && payload.userErrors.length === 0) confirmed += 1;
      else count(payload?.userErrors[0]?.code ?? `ORDER_${payload?.order?.status ?? "NONE"}`);
    }
  }
  const final = await variantStock(client, staff, variant.id);
  const failures: string[] = [];
  if (confirmed !== stock) failures.push(`${confirmed} orders CONFIRMED, expected exactly ${stock}`);
  const refused = refusals.INSUFFICIENT_STOCK ?? 0;
  if (refused !== buyers - confirmed) {
    failures.push(
      `${buyers - confirmed - refused} buyers got something other than CONFIRMED or INSUFFICIENT_STOCK: ${JSON.stringify(refusals)}`,
    );
  }
  if (final.stockOnHand !== 0 || final.reserved !== 0) {
    failures.push(
      `${variant.sku} ends with stock ${final.stockOnHand}, reserved ${final.reserved} (expected 0, 0)`,
    );
  }
  return {
    name: "flash-sale",
    buyers,
    stock,
    sku: variant.sku,
    setupSeconds,
    drainMs: Math.round((lastAnswer - firstSent) * 10) / 10,
    latencyMs: summarize(answers.map((a) => a.ms)),
    confirmed,
    refusals,
    final: { stockOnHand: final.stockOnHand, reserved: final.reserved },
    cpuCores,
    passed: failures.length === 0,
    failures,
  };
}
