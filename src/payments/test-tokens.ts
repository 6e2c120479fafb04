/**
 * The payment-method tokens the TestGateway answers, and (the `stripe: true` rows) the subset of
 * Stripe's own test PaymentMethods that the local Stripe stand-in answers the same way. Any other
 * token is declined with `invalid_payment_method` (the stand-in answers Stripe's 400 "No such
 * PaymentMethod", which the StripeGateway reports the same way).
 *
 * | token                                        | authorize                                  | then                                    |
 * | -------------------------------------------- | ------------------------------------------ | --------------------------------------- |
 * | pm_card_visa, pm_card_mastercard, tok_visa   | authorized                                 | capture, cancel, refund succeed         |
 * | pm_card_chargeDeclined                       | declined `generic_decline`                 |                                         |
 * | pm_card_visa_chargeDeclinedInsufficientFunds | declined `insufficient_funds`              |                                         |
 * | pm_card_chargeDeclinedExpiredCard            | declined `expired_card`                    |                                         |
 * | pm_card_authenticationRequired               | requires_action (client secret)            | TestGateway.completeAction finishes it  |
 * | pm_test_timeout                              | unknown; nothing was created               | retrieve/find: nothing                  |
 * | pm_test_reply_lost                           | unknown the first time per key (in this    | replaying authorize -> authorized, the  |
 * |                                              | process), but the hold WAS made            | same intent; find lists it              |
 * | pm_test_capture_fails                        | authorized                                 | capture: failed `charge_expired_for_capture` |
 * | pm_test_capture_unknown                      | authorized                                 | capture: unknown, nothing captured      |
 * | pm_test_cancel_unknown                       | authorized                                 | cancel: unknown, nothing cancelled      |
 * | pm_test_refund_fails                         | authorized                                 | refund: failed `charge_disputed`        |
 * | pm_test_refund_unknown                       | authorized                                 | refund: unknown, nothing refunded       |
 * | pm_test_card_<label>                         | authorized, a card of its own per label    | capture, cancel, refund succeed         |
 *
 * Every pm_card_visa is one card (one fingerprint), as in Stripe's test mode. `pm_test_card_<label>`
 * (label: 1 to 64 letters, digits or `_`) is a distinct card per label, so that load and fraud
 * tests can have many buyers with cards of their own.
 */

export type TokenAuthorization =
  | { kind: "authorized" }
  | { kind: "declined"; declineCode: string; message: string }
  | { kind: "requires_action" }
  /** No answer, and nothing happened. */
  | { kind: "timeout" }
  /** No answer the first time, but the hold was made. */
  | { kind: "reply_lost" };

export type TokenFault =
  | "capture_fails"
  | "capture_unknown"
  | "cancel_unknown"
  | "refund_fails"
  | "refund_unknown";

export interface TestToken {
  authorize: TokenAuthorization;
  fault?: TokenFault;
  /** One of Stripe's own test PaymentMethods: the stand-in answers it too. */
  stripe: boolean;
}

const authorized = { kind: "authorized" } as const;

export const TEST_TOKENS: Readonly<Record<string, TestToken>> = {
  pm_card_visa: { authorize: authorized, stripe: true },
  pm_card_mastercard: { authorize: authorized, stripe: true },
  tok_visa: { authorize: authorized, stripe: true },
  pm_card_chargeDeclined: {
    authorize: { kind: "declined", declineCode: "generic_decline", message: "Your card was declined." },
    stripe: true,
  },
  pm_card_visa_chargeDeclinedInsufficientFunds: {
    authorize: {
      kind: "declined",
      declineCode: "insufficient_funds",
      message: "Your card has insufficient funds.",
    },
    stripe: true,
  },
  pm_card_chargeDeclinedExpiredCard: {
    authorize: { kind: "declined", declineCode: "expired_card", message: "Your card has expired." },
    stripe: true,
  },
  pm_card_authenticationRequired: { authorize: { kind: "requires_action" }, stripe: true },
  pm_test_timeout: { authorize: { kind: "timeout" }, stripe: false },
  pm_test_reply_lost: { authorize: { kind: "reply_lost" }, stripe: false },
  pm_test_capture_fails: { authorize: authorized, fault: "capture_fails", stripe: false },
  pm_test_capture_unknown: { authorize: authorized, fault: "capture_unknown", stripe: false },
  pm_test_cancel_unknown: { authorize: authorized, fault: "cancel_unknown", stripe: false },
  pm_test_refund_fails: { authorize: authorized, fault: "refund_fails", stripe: false },
  pm_test_refund_unknown: { authorize: authorized, fault: "refund_unknown", stripe: false },
};

const DISTINCT_CARD = /^pm_test_card_[A-Za-z0-9_]{1,64}$/;
const distinctCard: TestToken = { authorize: authorized, stripe: false };

export function testToken(token: string): TestToken | null {
  if (Object.hasOwn(TEST_TOKENS, token)) return TEST_TOKENS[token] ?? null;
  return DISTINCT_CARD.test(token) ? distinctCard : null;
}
