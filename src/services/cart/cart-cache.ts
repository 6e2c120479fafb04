/**
 * The Redis copy of carts (`cart:<id>`). PostgreSQL stays the truth: every write commits first, then
 * stores the new version here. A copy is only ever replaced by a newer version (compare-and-set on the
 * cart's version), so a reader that loaded an older cart before a write can never put it back.
 * Changes made without the full cart at hand (sweeps) leave a tombstone carrying the new version: it
 * reads as a miss and still blocks older copies.
 */
import type { Cache } from "../../infra/types.js";
import type { CartRecord } from "./cart.types.js";

const key = (cartId: string) => `cart:${cartId}`;
const TOMBSTONE = "";

export class CartCache {
  constructor(
    private readonly cache: Cache,
    private readonly ttlSeconds: number,
  ) {}

  /** Reads a cart; its TTL is left alone (see Cache.getVersioned). */
  async get(cartId: string): Promise<CartRecord | null> {
    const entry = await this.cache.getVersioned(key(cartId));
    const raw = entry?.value;
    if (!raw) return null; // a miss or a tombstone
    try {
      return reviveCart(JSON.parse(raw));
    } catch {
      await this.cache.del(key(cartId));
      return null;
    }
  }

  async put(cart: CartRecord): Promise<void> {
    await this.cache.setIfNewer(key(cart.id), cart.version, JSON.stringify(cart), this.ttlSeconds);
  }

  async invalidate(...changed: { id: string; version: number }[]): Promise<void> {
    await Promise.all(
      changed.map((c) => this.cache.setIfNewer(key(c.id), c.version, TOMBSTONE, this.ttlSeconds)),
    );
  }
}

type Json = Record<string, unknown>;

function reviveCart(raw: Json): CartRecord {
  const cart = raw as unknown as CartRecord;
  return {
    ...cart,
    createdAt: new Date(cart.createdAt),
    updatedAt: new Date(cart.updatedAt),
    expiresAt: cart.expiresAt ? new Date(cart.expiresAt) : null,
    lines: cart.lines.map((l) => ({ ...l, createdAt: new Date(l.createdAt) })),
    discounts: cart.discounts.map((d) => ({ ...d, appliedAt: new Date(d.appliedAt) })),
  };
}
