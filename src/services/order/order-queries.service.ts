/**
 * Reading orders. A caller sees only what is theirs: a customer their orders, a guest session the orders
 * it placed, staff every order of their store. Unknown, foreign and not-yours ids all read as null.
 * The parts of an order (lines, history, payments, refunds) load in batches for many orders at once,
 * so a page of 50 orders costs a constant number of statements.
 */
import { and, asc, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import { orderItems, orderStatusHistory, orders, payments, refunds } from "../../db/schema.js";
import { assertStaff } from "../authz.js";
import { type Caller, isStaff, type ServiceContext } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import { ErrorCode, UnauthenticatedError, userError } from "../errors.js";
import { decodeCursor, type Page, type PageArgs, pageSize, toPage } from "../pagination.js";
import { isUuid } from "../validation.js";
import type { OrderStatus } from "./order-status.js";
import type { OrderRow } from "./transition.js";

export type OrderItemRow = typeof orderItems.$inferSelect;
export type OrderHistoryRow = typeof orderStatusHistory.$inferSelect;
export type PaymentRecord = typeof payments.$inferSelect;
export type RefundRecord = typeof refunds.$inferSelect;

/** Whether the caller may read (and follow) this order. */
export function canSeeOrder(caller: Caller, order: Pick<OrderRow, "customerId" | "sessionId">): boolean {
  if (caller.kind === "staff") return true;
  if (caller.kind === "customer") return order.customerId === caller.customerId;
  if (caller.kind === "guest") return order.customerId === null && order.sessionId === caller.sessionId;
  return false;
}

/** Newest first, keyset by (created_at, id). */
const newestFirst = [desc(orders.createdAt), desc(orders.id)];

export class OrderQueries {
  constructor(private readonly deps: ServiceDeps) {}

  async get(ctx: ServiceContext, id: string): Promise<OrderRow | null> {
    if (!isUuid(id)) return null;
    const row = await this.row(ctx.store.id, id.toLowerCase());
    return row && canSeeOrder(ctx.caller, row) ? row : null;
  }

  /** The order row whoever asks: callers decide who may see it (canSeeOrder). */
  async row(storeId: string, id: string): Promise<OrderRow | null> {
    const [row] = await this.deps.db
      .select()
      .from(orders)
      .where(and(eq(orders.storeId, storeId), eq(orders.id, id)));
    return row ?? null;
  }

  /** The caller's own orders, newest first (customers; a guest session sees the orders it placed). */
  async mine(ctx: ServiceContext, args: PageArgs): Promise<Page<OrderRow>> {
    const caller = ctx.caller;
    let owner: SQL;
    if (caller.kind === "customer") owner = eq(orders.customerId, caller.customerId);
    else if (caller.kind === "guest")
      owner = and(eq(orders.sessionId, caller.sessionId), sql`${orders.customerId} IS NULL`) as SQL;
    else if (caller.kind === "staff") return { items: [], hasNextPage: false, hasPreviousPage: false };
    else throw new UnauthenticatedError("Sign in (or use your guest session) to see your orders");
    return this.page(ctx.store.id, owner, args);
  }

  /** Staff: the store's orders, newest first, optionally of one status. */
  async list(ctx: ServiceContext, args: PageArgs & { status?: OrderStatus | null }): Promise<Page<OrderRow>> {
    assertStaff(ctx.caller);
    return this.page(ctx.store.id, args.status ? eq(orders.status, args.status) : undefined, args);
  }

  private async page(storeId: string, where: SQL | undefined, args: PageArgs): Promise<Page<OrderRow>> {
    const size = pageSize(args.first);
    const conditions: (SQL | undefined)[] = [eq(orders.storeId, storeId), where];
    if (args.after) {
      const cursor = decodeCursor(args.after);
      conditions.push(
        sql`(${orders.createdAt}, ${orders.id}) < (${cursor.at.toISOString()}::timestamptz, ${cursor.id}::uuid)`,
      );
    }
    const rows =
      size === 0
        ? []
        : await this.deps.db
            .select()
            .from(orders)
            .where(and(...conditions))
            .orderBy(...newestFirst)
            .limit(size + 1);
    return toPage(rows, size, (o) => ({ at: o.createdAt, id: o.id }), Boolean(args.after));
  }

  // Batch reads for DataLoaders: results line up with `orderIds`.

  async linesByOrderIds(storeId: string, orderIds: readonly string[]): Promise<OrderItemRow[][]> {
    const rows = orderIds.length
      ? await this.deps.db
          .select()
          .from(orderItems)
          .where(and(eq(orderItems.storeId, storeId), inArray(orderItems.orderId, [...orderIds])))
          .orderBy(asc(orderItems.sku), asc(orderItems.id))
      : [];
    return group(orderIds, rows, (r) => r.orderId);
  }

  async historyByOrderIds(storeId: string, orderIds: readonly string[]): Promise<OrderHistoryRow[][]> {
    const rows = orderIds.length
      ? await this.deps.db
          .select()
          .from(orderStatusHistory)
          .where(
            and(eq(orderStatusHistory.storeId, storeId), inArray(orderStatusHistory.orderId, [...orderIds])),
          )
          .orderBy(asc(orderStatusHistory.at), asc(orderStatusHistory.id))
      : [];
    return group(orderIds, rows, (r) => r.orderId);
  }

  async paymentsByOrderIds(storeId: string, orderIds: readonly string[]): Promise<PaymentRecord[][]> {
    const rows = orderIds.length
      ? await this.deps.db
          .select()
          .from(payments)
          .where(and(eq(payments.storeId, storeId), inArray(payments.orderId, [...orderIds])))
          .orderBy(asc(payments.createdAt))
      : [];
    return group(orderIds, rows, (r) => r.orderId);
  }

  async refundsByOrderIds(storeId: string, orderIds: readonly string[]): Promise<RefundRecord[][]> {
    const rows = orderIds.length
      ? await this.deps.db
          .select()
          .from(refunds)
          .where(and(eq(refunds.storeId, storeId), inArray(refunds.orderId, [...orderIds])))
          .orderBy(asc(refunds.createdAt))
      : [];
    return group(orderIds, rows, (r) => r.orderId);
  }

  /** An order the caller may act on (owner or staff); NOT_FOUND otherwise. */
  async requireVisible(ctx: ServiceContext, id: string, field = ["orderId"]): Promise<OrderRow> {
    const order = await this.get(ctx, id);
    if (!order) throw userError(ErrorCode.NOT_FOUND, "Order not found", { field });
    return order;
  }

  isStaffView(ctx: ServiceContext): boolean {
    return isStaff(ctx.caller);
  }
}

function group<T>(ids: readonly string[], rows: T[], keyOf: (row: T) => string): T[][] {
  const by = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const list = by.get(key) ?? [];
    list.push(row);
    by.set(key, list);
  }
  return ids.map((id) => by.get(id) ?? []);
}
