/**
 * Which outbox events become which notifications, for whom: runs inside the consumer's transaction
 * (it reads what the templates need and writes the rows), so the rows and the cursor move commit
 * together. Rows are keyed by (store, event, template, recipient): an event handled twice writes
 * nothing the second time.
 *
 * Decisions:
 * - Shoppers hear of an order when it is CONFIRMED (not when it is placed: a PENDING order may still
 *   be declined), SHIPPED (carrier and tracking number), CANCELLED and REFUNDED. A cancellation of an
 *   order that was still PENDING (a declined or abandoned payment, seen at checkout) is not mailed:
 *   the shopper was never told the order stood.
 * - An abandoned cart is mailed to the cart's email, else its customer's, and only while it is still
 *   ABANDONED when the event is handled (a shopper who came back in between hears nothing).
 * - Stock alerts (low, sold out, back in stock) go to every staff member of the store, one row each,
 *   so one address that bounces is retried (or fails) on its own. Staff who join later are not sent
 *   alerts of earlier events.
 * - An event whose payload is not what its producer writes is logged and passed over: it can never
 *   become valid, and it must not stall every notification behind it.
 */
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Tx } from "../../db/client.js";
import {
  cartItems,
  carts,
  customers,
  notifications,
  orders,
  products,
  productVariants,
  staffUsers,
  stores,
} from "../../db/schema.js";
import type { Logger } from "../../logger.js";
import { STOCK_STATE_CHANGED } from "../inventory/stock-events.js";
import { CART_ABANDONED } from "../jobs/cart-lifecycle.job.js";
import { ORDER_STATUS_CHANGED } from "../order/transition.js";
import type { OutboxMessage } from "../outbox.js";
import {
  type CartAbandonedPayload,
  NotificationTemplate,
  type OrderNotificationPayload,
  type StockNotificationPayload,
} from "./notification-templates.js";
import type { NotificationChannel } from "./notification-transport.js";

/** The events that can become notifications: the consumer reads only these. */
export const NOTIFICATION_TOPICS = [ORDER_STATUS_CHANGED, CART_ABANDONED, STOCK_STATE_CHANGED] as const;

export interface NotificationDraft {
  channel: NotificationChannel;
  template: NotificationTemplate;
  recipient: string;
  payload: OrderNotificationPayload | CartAbandonedPayload | StockNotificationPayload;
}

const orderStatusChanged = z.object({
  orderId: z.string(),
  from: z.string().nullish(),
  to: z.string(),
  email: z.string().nullish(),
  reason: z.string().nullish(),
  trackingNumber: z.string().nullish(),
  carrier: z.string().nullish(),
  /** Not written by transition.ts today; used when a refund event carries it. */
  amount: z.number().int().positive().nullish(),
});

const cartAbandoned = z.object({
  cartId: z.string(),
  customerId: z.string().nullish(),
  email: z.string().nullish(),
});

const stockStateChanged = z.object({
  variantId: z.string(),
  from: z.enum(["IN_STOCK", "LOW", "OUT"]),
  to: z.enum(["IN_STOCK", "LOW", "OUT"]),
  available: z.number().int(),
  threshold: z.number().int(),
});

const ORDER_TEMPLATES: Partial<Record<string, NotificationTemplate>> = {
  CONFIRMED: NotificationTemplate.ORDER_CONFIRMED,
  SHIPPED: NotificationTemplate.ORDER_SHIPPED,
  CANCELLED: NotificationTemplate.ORDER_CANCELLED,
  REFUNDED: NotificationTemplate.ORDER_REFUNDED,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class MalformedEvent extends Error {}

function parsed<T>(schema: z.ZodType<T>, message: OutboxMessage): T {
  const result = schema.safeParse(message.payload);
  if (!result.success) throw new MalformedEvent(`${message.topic} payload does not parse`);
  return result.data;
}

const normalizeRecipient = (email: string | null | undefined): string | null =>
  email?.trim().toLowerCase() || null;

async function storeOf(tx: Tx, storeId: string): Promise<{ name: string; handle: string } | null> {
  const [row] = await tx
    .select({ name: stores.name, handle: stores.handle })
    .from(stores)
    .where(eq(stores.id, storeId));
  return row ?? null;
}

async function customerEmail(tx: Tx, storeId: string, customerId: string | null): Promise<string | null> {
  if (!customerId || !UUID.test(customerId)) return null;
  const [row] = await tx
    .select({ email: customers.email })
    .from(customers)
    .where(and(eq(customers.storeId, storeId), eq(customers.id, customerId)));
  return row?.email ?? null;
}

async function orderDrafts(tx: Tx, message: OutboxMessage): Promise<NotificationDraft[]> {
  const event = parsed(orderStatusChanged, message);
  const template = ORDER_TEMPLATES[event.to];
  if (!template) return [];
  if (template === NotificationTemplate.ORDER_CANCELLED && (event.from ?? "PENDING") === "PENDING") return [];
  if (!UUID.test(event.orderId)) throw new MalformedEvent("order id is not a uuid");
  const [order] = await tx
    .select({
      number: orders.number,
      email: orders.email,
      customerId: orders.customerId,
      total: orders.total,
      refunded: orders.refunded,
      currency: orders.currency,
      trackingNumber: orders.trackingNumber,
      carrier: orders.carrier,
      cancelReason: orders.cancelReason,
    })
    .from(orders)
    .where(and(eq(orders.storeId, message.storeId), eq(orders.id, event.orderId)));
  const store = await storeOf(tx, message.storeId);
  if (!order || !store) return [];
  const recipient = normalizeRecipient(
    event.email ?? order.email ?? (await customerEmail(tx, message.storeId, order.customerId)),
  );
  if (!recipient) return [];
  // The event is the record of that moment; the order row fills in what the event does not carry.
  const payload: OrderNotificationPayload = {
    storeName: store.name,
    orderId: event.orderId,
    orderNumber: order.number,
    currency: order.currency,
    total: order.total,
  };
  if (template === NotificationTemplate.ORDER_SHIPPED) {
    payload.trackingNumber = event.trackingNumber ?? order.trackingNumber;
    payload.carrier = event.carrier ?? order.carrier;
  }
  if (template === NotificationTemplate.ORDER_CANCELLED) payload.reason = event.reason ?? order.cancelReason;
  if (template === NotificationTemplate.ORDER_REFUNDED) {
    payload.refundedAmount = event.amount ?? (order.refunded > 0 ? order.refunded : null);
  }
  return [{ channel: "email", template, recipient, payload }];
}

async function cartDrafts(tx: Tx, message: OutboxMessage): Promise<NotificationDraft[]> {
  const event = parsed(cartAbandoned, message);
  if (!UUID.test(event.cartId)) throw new MalformedEvent("cart id is not a uuid");
  const [cart] = await tx
    .select({ status: carts.status, email: carts.email, customerId: carts.customerId })
    .from(carts)
    .where(and(eq(carts.storeId, message.storeId), eq(carts.id, event.cartId)));
  if (cart?.status !== "ABANDONED") return [];
  const [items] = await tx
    .select({ count: sql<number>`coalesce(sum(${cartItems.quantity}), 0)::int` })
    .from(cartItems)
    .where(and(eq(cartItems.storeId, message.storeId), eq(cartItems.cartId, event.cartId)));
  const itemCount = Number(items?.count ?? 0);
  if (itemCount === 0) return [];
  const store = await storeOf(tx, message.storeId);
  if (!store) return [];
  const recipient = normalizeRecipient(
    event.email ?? cart.email ?? (await customerEmail(tx, message.storeId, cart.customerId)),
  );
  if (!recipient) return [];
  const payload: CartAbandonedPayload = {
    storeName: store.name,
    storeHandle: store.handle,
    cartId: event.cartId,
    itemCount,
  };
  return [{ channel: "email", template: NotificationTemplate.CART_ABANDONED, recipient, payload }];
}

function stockTemplate(from: string, to: string): NotificationTemplate | null {
  if (to === "OUT") return NotificationTemplate.STOCK_OUT;
  if (from === "OUT") return NotificationTemplate.STOCK_BACK;
  if (to === "LOW") return NotificationTemplate.STOCK_LOW;
  // LOW -> IN_STOCK: restocked above the threshold; nothing anyone needs to act on.
  return null;
}

async function stockDrafts(tx: Tx, message: OutboxMessage): Promise<NotificationDraft[]> {
  const event = parsed(stockStateChanged, message);
  const template = stockTemplate(event.from, event.to);
  if (!template) return [];
  if (!UUID.test(event.variantId)) throw new MalformedEvent("variant id is not a uuid");
  const [variant] = await tx
    .select({ sku: productVariants.sku, title: productVariants.title, productName: products.name })
    .from(productVariants)
    .innerJoin(
      products,
      and(eq(products.storeId, productVariants.storeId), eq(products.id, productVariants.productId)),
    )
    .where(and(eq(productVariants.storeId, message.storeId), eq(productVariants.id, event.variantId)));
  const store = await storeOf(tx, message.storeId);
  if (!variant || !store) return [];
  const staff = await tx
    .select({ email: staffUsers.email })
    .from(staffUsers)
    .where(eq(staffUsers.storeId, message.storeId));
  const payload: StockNotificationPayload = {
    storeName: store.name,
    variantId: event.variantId,
    sku: variant.sku,
    productName: variant.productName,
    variantTitle: variant.title,
    available: event.available,
    threshold: event.threshold,
  };
  return staff
    .map((s) => normalizeRecipient(s.email))
    .filter((email): email is string => email !== null)
    .map((recipient) => ({ channel: "email" as const, template, recipient, payload }));
}

/** The notifications `message` calls for (none for events of other topics). */
export async function notificationDrafts(tx: Tx, message: OutboxMessage): Promise<NotificationDraft[]> {
  switch (message.topic) {
    case ORDER_STATUS_CHANGED:
      return orderDrafts(tx, message);
    case CART_ABANDONED:
      return cartDrafts(tx, message);
    case STOCK_STATE_CHANGED:
      return stockDrafts(tx, message);
    default:
      return [];
  }
}

/**
 * Writes the notifications of one event as PENDING rows, in the caller's transaction; resolves how
 * many are new (0 when the event was handled before).
 */
export async function recordNotifications(tx: Tx, message: OutboxMessage, logger: Logger): Promise<number> {
  let drafts: NotificationDraft[];
  try {
    drafts = await notificationDrafts(tx, message);
  } catch (err) {
    if (!(err instanceof MalformedEvent)) throw err;
    logger.error({ err, eventId: message.id, topic: message.topic }, "notifications: event passed over");
    return 0;
  }
  if (drafts.length === 0) return 0;
  const written = await tx
    .insert(notifications)
    .values(
      drafts.map((d) => ({
        storeId: message.storeId,
        eventId: message.id,
        channel: d.channel,
        template: d.template,
        recipient: d.recipient,
        payload: d.payload,
      })),
    )
    .onConflictDoNothing({
      target: [notifications.storeId, notifications.eventId, notifications.template, notifications.recipient],
    })
    .returning({ id: notifications.id });
  return written.length;
}
