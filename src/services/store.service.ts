/**
 * Resolves the store of each request. Stores change rarely and are read on every request, so they are
 * kept in process for a short time.
 */
import { asc, eq } from "drizzle-orm";
import { stores } from "../db/schema.js";
import type { StoreRef } from "./context.js";
import type { ServiceDeps } from "./deps.js";
import { UnknownStoreError } from "./errors.js";

const STORE_CACHE_MS = 30_000;

export class StoreService {
  private readonly byHandle = new Map<string, { store: StoreRef; at: number }>();
  private defaultHandle: { handle: string; at: number } | null = null;

  constructor(private readonly deps: ServiceDeps) {}

  /** The store named by the `x-store` header, or the default store when absent. */
  async resolve(handle: string | undefined | null): Promise<StoreRef> {
    const wanted = handle?.trim().toLowerCase() || (await this.defaultStoreHandle());
    const hit = this.byHandle.get(wanted);
    if (hit && Date.now() - hit.at < STORE_CACHE_MS) return hit.store;
    const [row] = await this.deps.db
      .select({ id: stores.id, handle: stores.handle, name: stores.name, currency: stores.currency })
      .from(stores)
      .where(eq(stores.handle, wanted))
      .limit(1);
    if (!row) throw new UnknownStoreError(wanted);
    this.byHandle.set(wanted, { store: row, at: Date.now() });
    return row;
  }

  /** DEFAULT_STORE if configured, else the oldest store ("demo" in the embedded setup). */
  private async defaultStoreHandle(): Promise<string> {
    const configured = this.deps.config.DEFAULT_STORE;
    if (configured) return configured;
    if (this.defaultHandle && Date.now() - this.defaultHandle.at < STORE_CACHE_MS)
      return this.defaultHandle.handle;
    const [row] = await this.deps.db
      .select({ handle: stores.handle })
      .from(stores)
      .orderBy(asc(stores.createdAt), asc(stores.handle))
      .limit(1);
    if (!row) throw new UnknownStoreError("(default)");
    this.defaultHandle = { handle: row.handle, at: Date.now() };
    return row.handle;
  }

  async create(input: { handle: string; name: string; currency: string }): Promise<StoreRef> {
    const [row] = await this.deps.db
      .insert(stores)
      .values(input)
      .returning({ id: stores.id, handle: stores.handle, name: stores.name, currency: stores.currency });
    if (!row) throw new Error("store insert returned nothing");
    return row;
  }
}
