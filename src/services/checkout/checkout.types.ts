/** What checkoutComplete takes and answers, as the services see it. */
import type { AddressJson } from "../../db/schema.js";
import type { UserErrorData } from "../errors.js";
import type { OrderRow } from "../order/transition.js";

export interface CheckoutInput {
  cartId: string;
  /** Chosen by the client, reused on every retry of this checkout; unique per store. */
  idempotencyKey: string;
  /** A gateway token, e.g. "pm_card_visa". */
  paymentMethod: string;
  shippingAddress?: AddressJson | null;
  billingAddress?: AddressJson | null;
  /** Guests: where the confirmation goes (else the cart's email). */
  email?: string | null;
  /** The total the shopper saw (minor units): a checkout at any other total is refused. */
  expectedTotal?: number | null;
  /** Accept prices that rose since the lines were added. */
  acceptPriceChanges?: boolean | null;
}

/** A line that now costs more than when it was added. */
export interface PriceChangeView {
  lineId: string;
  variantId: string;
  previousUnitPrice: number;
  newUnitPrice: number;
}

/**
 * The answer: the order when one was placed (whatever became of its payment), the client secret when
 * the card needs 3-D Secure, the lines whose prices rose (PRICE_CHANGED), and the userErrors.
 */
export interface CheckoutResult {
  order: OrderRow | null;
  paymentClientSecret: string | null;
  priceChanges: PriceChangeView[];
  userErrors: UserErrorData[];
}

/** Where a placed order's saga stands, read back from PostgreSQL. */
export interface SagaState {
  order: OrderRow;
  payment: {
    id: string;
    status: string;
    intentId: string | null;
    amount: number;
    currency: string;
    paymentMethod: string | null;
    idempotencyKey: string;
    clientSecret: string | null;
  };
}
