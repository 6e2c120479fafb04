/**
 * Saga steps that talk to the gateway, each with no transaction open: authorise (compensated by void),
 * capture (compensated by void when it fails definitively). Every call derives its idempotency key from
 * the payment's base key, so a retry, a resumed saga or crash recovery repeats the SAME request and the
 * gateway never holds or takes the money twice. What the gateway answered is recorded right after, in one
 * statement (payment, its event log and the order together), before the saga moves on.
 */
import { and, eq } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { orders } from "../../db/schema.js";
import type {
  AuthorizeOutcome,
  CancelOutcome,
  CaptureOutcome,
  PaymentGateway,
} from "../../payments/index.js";
import { ErrorCode } from "../errors.js";
import type { OrderRow } from "../order/transition.js";
import { type PaymentRow, updatePayment } from "./payment-record.js";

export interface GatewayStepDeps {
  db: Db;
  gateway: PaymentGateway;
  now: () => Date;
}

export const gatewayKey = (
  payment: Pick<PaymentRow, "idempotencyKey">,
  step: "auth" | "capture" | "cancel",
) => `${payment.idempotencyKey}_${step}`;

export async function authorizePayment(
  deps: GatewayStepDeps,
  order: OrderRow,
  payment: PaymentRow,
): Promise<AuthorizeOutcome> {
  const outcome = await deps.gateway.authorize({
    storeId: order.storeId,
    orderId: order.id,
    orderNumber: order.number,
    amount: order.total,
    currency: order.currency,
    paymentMethod: payment.paymentMethod ?? "",
    idempotencyKey: gatewayKey(payment, "auth"),
    email: order.email,
  });
  const at = deps.now();
  // What the gateway answered, on the payment row, its event log and the order: one statement.
  if (outcome.kind === "authorized") {
    await updatePayment(
      deps.db,
      order.storeId,
      payment.id,
      {
        status: "AUTHORIZED",
        intentId: outcome.intentId,
        cardFingerprint: outcome.cardFingerprint,
        authorizedAt: at,
      },
      { type: "authorized", amount: outcome.amountCapturable, data: { intentId: outcome.intentId } },
      at,
      [
        deps.db
          .update(orders)
          .set({ paymentStatus: "AUTHORIZED", paymentIntentId: outcome.intentId, updatedAt: at })
          .where(and(eq(orders.storeId, order.storeId), eq(orders.id, order.id))),
      ],
    );
  } else if (outcome.kind === "requires_action") {
    // The shopper completes 3-D Secure in the client; the signed webhook finishes the order.
    await updatePayment(
      deps.db,
      order.storeId,
      payment.id,
      { status: "REQUIRES_ACTION", intentId: outcome.intentId, clientSecret: outcome.clientSecret },
      { type: "requires_action", data: { intentId: outcome.intentId } },
      at,
      [
        deps.db
          .update(orders)
          .set({
            paymentStatus: "REQUIRES_ACTION",
            paymentIntentId: outcome.intentId,
            sagaLeaseUntil: null,
            checkoutOutcome: {
              userErrors: [
                {
                  code: ErrorCode.PAYMENT_REQUIRES_ACTION,
                  message: "The card needs authentication (3-D Secure): complete it with paymentClientSecret",
                  field: ["input", "paymentMethod"],
                },
              ],
              clientSecret: outcome.clientSecret,
            },
            updatedAt: at,
          })
          .where(and(eq(orders.storeId, order.storeId), eq(orders.id, order.id))),
      ],
    );
  } else if (outcome.kind === "unknown" && outcome.intentId) {
    await updatePayment(deps.db, order.storeId, payment.id, { intentId: outcome.intentId }, null, at);
  }
  return outcome;
}

export function capturePayment(
  deps: GatewayStepDeps,
  payment: PaymentRow,
  intentId: string,
): Promise<CaptureOutcome> {
  return deps.gateway.capture({ intentId, idempotencyKey: gatewayKey(payment, "capture") });
}

/** Releases an authorisation that will not be captured (the compensation of authorise). */
export function voidAuthorization(
  deps: GatewayStepDeps,
  payment: PaymentRow,
  intentId: string,
  reason: "fraudulent" | "abandoned" | "requested_by_customer" | "duplicate",
): Promise<CancelOutcome> {
  return deps.gateway.cancel({ intentId, idempotencyKey: gatewayKey(payment, "cancel"), reason });
}
