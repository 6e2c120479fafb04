/**
 * The notification templates: what each one needs (its payload, stored on the notification row) and
 * the plain subject and text it renders to. Money is integer minor units in the payload and formatted
 * for its currency only here (money-format.ts).
 */
import { z } from "zod";
import { formatMoney } from "../money-format.js";

export const NotificationTemplate = {
  ORDER_CONFIRMED: "order_confirmed",
  ORDER_SHIPPED: "order_shipped",
  ORDER_CANCELLED: "order_cancelled",
  ORDER_REFUNDED: "order_refunded",
  CART_ABANDONED: "cart_abandoned",
  STOCK_LOW: "stock_low",
  STOCK_OUT: "stock_out",
  STOCK_BACK: "stock_back",
} as const;
export type NotificationTemplate = (typeof NotificationTemplate)[keyof typeof NotificationTemplate];

const minorUnits = z.number().int().nonnegative();
const currency = z.string().regex(/^[A-Z]{3}$/);

export const orderPayload = z.object({
  storeName: z.string(),
  orderId: z.string(),
  orderNumber: z.string(),
  currency,
  total: minorUnits,
  trackingNumber: z.string().nullish(),
  carrier: z.string().nullish(),
  reason: z.string().nullish(),
  refundedAmount: minorUnits.nullish(),
});
export type OrderNotificationPayload = z.infer<typeof orderPayload>;

export const cartAbandonedPayload = z.object({
  storeName: z.string(),
  storeHandle: z.string(),
  cartId: z.string(),
  itemCount: z.number().int().nonnegative(),
});
export type CartAbandonedPayload = z.infer<typeof cartAbandonedPayload>;

export const stockPayload = z.object({
  storeName: z.string(),
  variantId: z.string(),
  sku: z.string(),
  productName: z.string(),
  variantTitle: z.string(),
  available: z.number().int(),
  threshold: z.number().int(),
});
export type StockNotificationPayload = z.infer<typeof stockPayload>;

export interface RenderedText {
  subject: string;
  text: string;
}

/** What rendering needs besides the payload: facts made at send time, never stored. */
export interface RenderExtras {
  /** The signed recovery link of an abandoned cart, and when it stops working. */
  recovery?: { url: string; expiresAt: Date };
}

/** A payload that does not fit its template (or an unknown template): retrying cannot help. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

function parse<T>(schema: z.ZodType<T>, template: string, payload: unknown): T {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new TemplateError(`payload does not fit template ${template}`);
  return parsed.data;
}

const lines = (...parts: (string | null | undefined | false)[]): string =>
  parts.filter((p): p is string => typeof p === "string").join("\n");

function renderOrder(template: NotificationTemplate, p: OrderNotificationPayload): RenderedText {
  const order = `Order #${p.orderNumber}`;
  const total = formatMoney(p.total, p.currency);
  switch (template) {
    case NotificationTemplate.ORDER_CONFIRMED:
      return {
        subject: `${p.storeName}: order #${p.orderNumber} is confirmed`,
        text: lines(
          "Thank you for your order.",
          "",
          `${order}`,
          `Total: ${total}`,
          "",
          "We will write again when it ships.",
          "",
          p.storeName,
        ),
      };
    case NotificationTemplate.ORDER_SHIPPED:
      return {
        subject: `${p.storeName}: order #${p.orderNumber} has shipped`,
        text: lines(
          "Your order is on its way.",
          "",
          order,
          p.carrier ? `Carrier: ${p.carrier}` : null,
          p.trackingNumber ? `Tracking number: ${p.trackingNumber}` : null,
          "",
          p.storeName,
        ),
      };
    case NotificationTemplate.ORDER_CANCELLED:
      return {
        subject: `${p.storeName}: order #${p.orderNumber} was cancelled`,
        text: lines(
          "Your order has been cancelled.",
          "",
          order,
          p.reason ? `Reason: ${p.reason}` : null,
          "",
          "If a payment was taken, it is returned to your payment method.",
          "",
          p.storeName,
        ),
      };
    case NotificationTemplate.ORDER_REFUNDED:
      return {
        subject: `${p.storeName}: order #${p.orderNumber} was refunded`,
        text: lines(
          "Your order has been refunded.",
          "",
          order,
          p.refundedAmount ? `Refunded: ${formatMoney(p.refundedAmount, p.currency)}` : null,
          "",
          "The money goes back to your payment method; your bank may take a few days to show it.",
          "",
          p.storeName,
        ),
      };
    default:
      throw new TemplateError(`${template} is not an order template`);
  }
}

function renderStock(template: NotificationTemplate, p: StockNotificationPayload): RenderedText {
  const item = `${p.productName} / ${p.variantTitle} (SKU ${p.sku})`;
  switch (template) {
    case NotificationTemplate.STOCK_LOW:
      return {
        subject: `${p.storeName}: low stock, ${p.productName} (${p.sku})`,
        text: lines(`${item} is running low: ${p.available} left (alert threshold ${p.threshold}).`),
      };
    case NotificationTemplate.STOCK_OUT:
      return {
        subject: `${p.storeName}: sold out, ${p.productName} (${p.sku})`,
        text: lines(`${item} is sold out: nothing left to sell.`),
      };
    case NotificationTemplate.STOCK_BACK:
      return {
        subject: `${p.storeName}: back in stock, ${p.productName} (${p.sku})`,
        text: lines(`${item} is back in stock: ${p.available} available.`),
      };
    default:
      throw new TemplateError(`${template} is not a stock template`);
  }
}

function renderCartAbandoned(p: CartAbandonedPayload, extras: RenderExtras): RenderedText {
  if (!extras.recovery) throw new TemplateError("cart_abandoned needs a recovery link");
  const items = p.itemCount === 1 ? "1 item" : `${p.itemCount} items`;
  return {
    subject: `${p.storeName}: your cart is waiting`,
    text: lines(
      `You left ${items} in your cart.`,
      "",
      "Pick up where you left off:",
      extras.recovery.url,
      "",
      `The link works until ${extras.recovery.expiresAt.toISOString().slice(0, 10)}. Anyone with it can open this cart, so please do not forward this email.`,
      "",
      p.storeName,
    ),
  };
}

/** Renders a stored notification. Throws TemplateError for what no retry can fix. */
export function renderTemplate(template: string, payload: unknown, extras: RenderExtras = {}): RenderedText {
  switch (template) {
    case NotificationTemplate.ORDER_CONFIRMED:
    case NotificationTemplate.ORDER_SHIPPED:
    case NotificationTemplate.ORDER_CANCELLED:
    case NotificationTemplate.ORDER_REFUNDED:
      return renderOrder(template, parse(orderPayload, template, payload));
    case NotificationTemplate.CART_ABANDONED:
      return renderCartAbandoned(parse(cartAbandonedPayload, template, payload), extras);
    case NotificationTemplate.STOCK_LOW:
    case NotificationTemplate.STOCK_OUT:
    case NotificationTemplate.STOCK_BACK:
      return renderStock(template, parse(stockPayload, template, payload));
    default:
      throw new TemplateError(`unknown notification template "${template}"`);
  }
}
