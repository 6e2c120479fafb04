/**
 * A cart write in progress: the locked cart as read (its snapshot) and the changes a use case makes
 * to it. Use cases describe changes here instead of writing cart rows themselves; the cart service
 * applies them in one statement (cart-write.ts) and builds the new cart from the snapshot and the
 * changes, so nothing is read back. A change reads other tables through `db`; one that also writes
 * other tables (saved items, reservations) asks for a transaction and writes them through `tx`.
 */
import type { Executor, Tx } from "../../db/client.js";
import type { CatalogVariant } from "../catalog.service.js";
import { type CartLineRecord, type CartRecord, cartRecordOf } from "./cart.types.js";
import { attachPrefetch, type CartPrefetch, sellableOf } from "./cart-prefetch.js";
import type { CartSnapshot, DiscountRow, ShippingMethodRow } from "./cart-snapshot.js";
import {
  type AppliedChanges,
  type CartChanges,
  type CartFieldChanges,
  type LineInsert,
  noChanges,
} from "./cart-write.js";

export class CartDraft {
  readonly changes: CartChanges = noChanges();
  /** Discount rows of codes applied by this change (for the reply's prices). */
  private readonly newCodes = new Map<string, DiscountRow>();
  private methodRow: ShippingMethodRow | null | undefined;

  /**
   * `db`: where the change reads; `transaction`: the open transaction holding the cart's row lock,
   * absent in an optimistic write (which applies the change only if the cart's version did not move).
   */
  constructor(
    readonly db: Executor,
    readonly snapshot: CartSnapshot,
    private readonly transaction?: Tx,
  ) {}

  /** The open transaction of a locked write; an optimistic write has none, so writing here is a bug. */
  get tx(): Tx {
    if (!this.transaction) {
      throw new Error("this cart write runs without a transaction; ask for one with { transaction: true }");
    }
    return this.transaction;
  }

  /** The cart as it was read (and, in a locked write, locked), before this change. */
  get cart(): CartRecord {
    return this.snapshot.cart;
  }

  /** Variants read with the cart: its lines' and the ones the change asked for. */
  get variants(): Map<string, CatalogVariant> {
    return this.snapshot.variants;
  }

  insertLine(line: LineInsert): void {
    this.changes.inserts.push(line);
  }

  /** A new quantity (and captured price) for an existing line; 0 removes it. */
  setLine(lineId: string, quantity: number, unitPrice?: number): void {
    const line = this.cart.lines.find((l) => l.id === lineId);
    if (!line) throw new Error(`line ${lineId} is not in cart ${this.cart.id}`);
    this.changes.updates = this.changes.updates.filter((u) => u.id !== lineId);
    if (quantity === 0) {
      if (!this.changes.deletes.includes(lineId)) this.changes.deletes.push(lineId);
      return;
    }
    const price = unitPrice ?? line.unitPrice;
    if (quantity !== line.quantity || price !== line.unitPrice) {
      this.changes.updates.push({ id: lineId, quantity, unitPrice: price });
    }
  }

  removeLine(lineId: string): void {
    this.setLine(lineId, 0);
  }

  addCode(discount: DiscountRow, appliedAmount: number): void {
    this.newCodes.set(discount.id, discount);
    this.changes.codeInserts.push({ discountId: discount.id, appliedAmount });
  }

  removeCode(discountId: string): void {
    this.changes.codeDeletes.push(discountId);
  }

  set(fields: CartFieldChanges): void {
    Object.assign(this.changes.fields, fields);
  }

  /** Selects (or, with null, clears) the shipping method; its row prices the reply. */
  setShippingMethod(method: ShippingMethodRow | null): void {
    this.set({ shippingMethodId: method?.id ?? null });
    this.methodRow = method;
  }

  /**
   * The cart after the change, from the snapshot, the changes and what the write statement returned;
   * with what is still true of the snapshot attached for pricing and the reply.
   */
  written(applied: AppliedChanges, opts: { stockChanged: boolean }): CartRecord {
    const { changes, snapshot } = this;
    const updates = new Map(changes.updates.map((u) => [u.id, u]));
    const lines: CartLineRecord[] = [];
    for (const line of this.cart.lines) {
      if (changes.deletes.includes(line.id)) continue;
      const u = updates.get(line.id);
      lines.push(u ? { ...line, quantity: u.quantity, unitPrice: u.unitPrice } : line);
    }
    const added = changes.inserts.map((ins) => {
      const row = applied.inserted.get(`${ins.variantId}|${ins.optionsHash}`);
      if (!row) throw new Error("an inserted line came back without its id");
      return {
        id: row.id,
        productId: ins.productId,
        variantId: ins.variantId,
        quantity: ins.quantity,
        unitPrice: ins.unitPrice,
        customOptions: ins.customOptions,
        createdAt: row.createdAt,
      };
    });
    // The same order as a read: creation time, then id (new lines are the newest).
    added.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
    lines.push(...added);

    const removedCodes = new Set(applied.codesRemoved);
    const codes = this.cart.discounts.filter((d) => !removedCodes.has(d.discountId));
    const codeRows = new Map([...snapshot.discounts].filter(([id]) => !removedCodes.has(id)));
    for (const c of changes.codeInserts) {
      if (codes.some((d) => d.discountId === c.discountId)) continue;
      codes.push({ discountId: c.discountId, appliedAt: applied.cart.updatedAt });
      const row = this.newCodes.get(c.discountId);
      if (row) codeRows.set(row.id, row);
    }

    const row = applied.cart;
    const cart = cartRecordOf(row, lines, codes);

    // What the change made stale is left out (and loaded again when the reply is priced).
    const f = changes.fields;
    const prefetch: CartPrefetch = { discounts: codeRows, catalog: snapshot };
    if (!opts.stockChanged) {
      prefetch.variants = new Map([...snapshot.variants].map(([id, v]) => [id, sellableOf(v)]));
    }
    if (f.email === undefined && changes.codeInserts.length === 0) {
      prefetch.customerUses = new Map([...snapshot.customerUses].filter(([id]) => !removedCodes.has(id)));
    }
    if (f.shippingMethodId === undefined) prefetch.shippingMethod = snapshot.shippingMethod;
    else if (this.methodRow !== undefined) prefetch.shippingMethod = this.methodRow;
    if (f.shippingAddress === undefined && snapshot.taxRates) prefetch.taxRates = snapshot.taxRates;
    return attachPrefetch(cart, prefetch);
  }
}

/** A read: the snapshot's cart with everything read alongside attached. */
export function viewOf(snapshot: CartSnapshot): CartRecord {
  return attachPrefetch(snapshot.cart, {
    variants: new Map([...snapshot.variants].map(([id, v]) => [id, sellableOf(v)])),
    discounts: snapshot.discounts,
    customerUses: snapshot.customerUses,
    shippingMethod: snapshot.shippingMethod,
    ...(snapshot.taxRates ? { taxRates: snapshot.taxRates } : {}),
    catalog: snapshot,
  });
}
