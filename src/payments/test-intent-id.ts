/**
 * TestGateway intent ids carry the facts they were issued for (token, amount, currency, order, store,
 * a hash of the idempotency key; not the order number, to stay within 255 characters), so a new process can tell what an id it never saw means: crash
 * recovery after a restart of `npm start` can still retrieve, capture or cancel it. The same inputs
 * always give the same id, as Stripe gives the same intent for the same idempotency key.
 * Not a secret and not tamper-proof: nothing real is ever charged through the TestGateway.
 */
import { createHash } from "node:crypto";

export interface TestIntentFacts {
  token: string;
  amount: number;
  /** Upper case ISO 4217. */
  currency: string;
  storeId: string;
  orderId: string;
  keyHash: string;
}

const PREFIX = "pi_test_";
const FORMAT = 1;

export function hashOf(value: string, length = 16): string {
  return createHash("sha256").update(value).digest("hex").slice(0, length);
}

export function encodeTestIntentId(facts: TestIntentFacts): string {
  const packed = [
    FORMAT,
    facts.token,
    facts.amount,
    facts.currency,
    facts.storeId,
    facts.orderId,
    facts.keyHash,
  ];
  return PREFIX + Buffer.from(JSON.stringify(packed)).toString("base64url");
}

export function decodeTestIntentId(intentId: string): TestIntentFacts | null {
  if (!intentId.startsWith(PREFIX)) return null;
  let packed: unknown;
  try {
    packed = JSON.parse(Buffer.from(intentId.slice(PREFIX.length), "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if (!Array.isArray(packed) || packed.length !== 7 || packed[0] !== FORMAT) return null;
  const [, token, amount, currency, storeId, orderId, keyHash] = packed as unknown[];
  if (
    typeof token !== "string" ||
    typeof amount !== "number" ||
    !Number.isSafeInteger(amount) ||
    typeof currency !== "string" ||
    typeof storeId !== "string" ||
    typeof orderId !== "string" ||
    typeof keyHash !== "string"
  ) {
    return null;
  }
  const facts = { token, amount, currency, storeId, orderId, keyHash };
  // Base64 decoding is lenient; only the exact canonical spelling of an id counts as that id.
  return encodeTestIntentId(facts) === intentId ? facts : null;
}

export function testClientSecret(intentId: string): string {
  return `${intentId}_secret_${hashOf(`secret:${intentId}`)}`;
}

export function testCardFingerprint(token: string): string {
  return hashOf(`card:${token}`);
}
