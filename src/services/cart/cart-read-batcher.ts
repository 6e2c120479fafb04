/**
 * Cart reads that arrive together are answered together: every read asked for in the same turn of the
 * event loop goes out as one statement per store (up to BATCH carts each). This is for fan-out, where
 * one event makes every subscriber re-read its own cart at the same moment: 5,000 subscribers cost a
 * handful of statements instead of 5,000, and a burst cannot exhaust the pool.
 */
import type { Db } from "../../db/client.js";
import { rawSql } from "../../db/raw-sql.js";
import { type CartSnapshot, loadCartSnapshots } from "./cart-snapshot.js";

const BATCH = 500;

interface Waiter {
  resolve: (snapshot: CartSnapshot | null) => void;
  reject: (error: unknown) => void;
}

export class CartReadBatcher {
  /** store id -> cart id -> who waits for it. */
  private pending = new Map<string, Map<string, Waiter[]>>();
  private scheduled = false;

  constructor(private readonly db: Db) {}

  read(storeId: string, cartId: string): Promise<CartSnapshot | null> {
    return new Promise((resolve, reject) => {
      let carts = this.pending.get(storeId);
      if (!carts) {
        carts = new Map();
        this.pending.set(storeId, carts);
      }
      const waiters = carts.get(cartId) ?? [];
      waiters.push({ resolve, reject });
      carts.set(cartId, waiters);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batches = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    const work: Promise<void>[] = [];
    for (const [storeId, carts] of batches) {
      const ids = [...carts.keys()];
      for (let i = 0; i < ids.length; i += BATCH) {
        const chunk = ids.slice(i, i + BATCH);
        work.push(
          loadCartSnapshots(rawSql(this.db), storeId, chunk).then(
            (found) => {
              for (const id of chunk) for (const w of carts.get(id) ?? []) w.resolve(found.get(id) ?? null);
            },
            (error: unknown) => {
              for (const id of chunk) for (const w of carts.get(id) ?? []) w.reject(error);
            },
          ),
        );
      }
    }
    await Promise.all(work);
  }
}
