/**
 * The stock gate on Redis: one counter per variant, `<ns>stock:{<storeId>}:<variantId>`. The store id is
 * the hash tag, so all counters of a store live in one slot and a multi-line take is one atomic script,
 * on a single node or a cluster alike. Fails open: without Redis every take is admitted (PostgreSQL
 * decides) and the other calls do nothing.
 */
import type { Connected } from "./redis-scripts.js";
import { checkCounts, checkStoreId, checkTtl, checkVariantIds, mergeLines } from "./stock-gate-input.js";
import { STOCK_GATE_DEFAULT_TTL_SECONDS, type StockCount, type StockGate } from "./types.js";

export interface RedisStockGateDeps {
  namespace: string;
  /** Runs an operation on Redis behind the circuit breaker. */
  guard<T>(op: (redis: Connected) => Promise<T>): Promise<T>;
  /** Reports an operation that fell back to the degraded answer. */
  degrade(op: string, err: unknown): void;
}

export function stockCounterKey(namespace: string, storeId: string, variantId: string): string {
  return `${namespace}stock:{${storeId}}:${variantId}`;
}

export function createRedisStockGate({ namespace, guard, degrade }: RedisStockGateDeps): StockGate {
  const keyOf = (storeId: string, variantId: string) => stockCounterKey(namespace, storeId, variantId);

  return {
    async take(storeId, lines) {
      checkStoreId(storeId);
      const wanted = [...mergeLines(lines)];
      if (wanted.length === 0) return { admitted: true };
      let reply: number[];
      try {
        reply = await guard(({ scripts }) =>
          scripts.stockTake(
            wanted.map(([variantId]) => keyOf(storeId, variantId)),
            wanted.map(([, quantity]) => quantity),
          ),
        );
      } catch (e) {
        degrade("stockGate.take", e);
        return { admitted: true };
      }
      if (reply.length === 0) return { admitted: true };
      const short: StockCount[] = [];
      for (let i = 0; i < reply.length; i += 2) {
        const [variantId] = wanted[Number(reply[i]) - 1]!;
        short.push({ variantId, available: Number(reply[i + 1]) });
      }
      return { admitted: false, short };
    },

    async giveBack(storeId, lines) {
      checkStoreId(storeId);
      const given = [...mergeLines(lines)];
      if (given.length === 0) return;
      try {
        await guard(({ scripts }) =>
          scripts.stockGiveBack(
            given.map(([variantId]) => keyOf(storeId, variantId)),
            given.map(([, quantity]) => quantity),
          ),
        );
      } catch (e) {
        degrade("stockGate.giveBack", e);
      }
    },

    async set(storeId, counts, ttlSeconds = STOCK_GATE_DEFAULT_TTL_SECONDS) {
      checkStoreId(storeId);
      checkCounts(counts);
      checkTtl(ttlSeconds);
      if (counts.length === 0) return;
      try {
        await guard(({ scripts }) =>
          scripts.stockSet(
            counts.map((c) => keyOf(storeId, c.variantId)),
            counts.map((c) => c.available),
            ttlSeconds,
          ),
        );
      } catch (e) {
        degrade("stockGate.set", e);
      }
    },

    async forget(storeId, variantIds) {
      checkStoreId(storeId);
      checkVariantIds(variantIds);
      if (variantIds.length === 0) return;
      try {
        await guard(({ client }) => client.del(...variantIds.map((v) => keyOf(storeId, v))));
      } catch (e) {
        degrade("stockGate.forget", e);
      }
    },
  };
}
