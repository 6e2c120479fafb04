/**
 * The fraud check: a port asked after the card is authorised and before it is captured, with the
 * default implementation the store's own rules (fraud-rules.ts). It reads, never writes, and never
 * runs inside a transaction; the saga acts on its verdict:
 *   ACCEPT -> capture as usual;
 *   REVIEW -> the order waits ON_HOLD, authorised but not captured, for a staff decision;
 *   REJECT -> the authorisation is voided and the order compensated like a decline.
 * The reasons go to staff (the order's history and risk); the shopper is never told which rule fired.
 */
export type FraudVerdict = "ACCEPT" | "REVIEW" | "REJECT";

export interface FraudDecision {
  verdict: FraudVerdict;
  /** Plain-language reasons, one per rule that matched (staff only). */
  reasons: string[];
}

export interface FraudInput {
  storeId: string;
  orderId: string;
  total: number;
  currency: string;
  email: string | null;
  customerId: string | null;
  clientIp: string | null;
  cardFingerprint: string | null;
  shippingCountry: string | null;
  billingCountry: string | null;
}

export interface FraudCheck {
  assess(input: FraudInput): Promise<FraudDecision>;
}

export const ACCEPT: FraudDecision = { verdict: "ACCEPT", reasons: [] };
