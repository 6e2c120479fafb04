/**
 * The StripeGateway through the REAL stripe SDK against the local stand-in (test/support/stripe-stand-in.ts):
 * what goes over the wire, how each Stripe answer maps to an outcome, and that no retry, by the SDK or
 * by us, ever authorises twice. Short client timeouts keep it fast; the SDK's retry back-off is at
 * least 0.5 s, so retries are used sparingly.
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import {
  type AuthorizeInput,
  createPaymentGateway,
  PaymentGatewayError,
  StripeGateway,
  WebhookSignatureError,
} from "../../src/payments/index.js";
import { StripeStandIn } from "../support/stripe-stand-in.js";

const WEBHOOK_SECRET = "whsec_stand_in_test_secret";
let standIn: StripeStandIn;

beforeEach(async () => {
  standIn = await StripeStandIn.start();
});
afterEach(async () => {
  // Every write of every test carried the caller's key, never one the SDK made up.
  for (const post of standIn.requests.filter((r) => r.method === "POST")) {
    expect(post.idempotencyKey).toBeTruthy();
    expect(post.idempotencyKey).not.toMatch(/^stripe-node-retry-/);
  }
  await standIn.close();
});

function gateway(options: { timeoutMs?: number; maxNetworkRetries?: number; secretKey?: string } = {}) {
  return new StripeGateway({
    secretKey: options.secretKey ?? standIn.secretKey,
    webhookSecret: WEBHOOK_SECRET,
    apiBase: standIn.url,
    timeoutMs: options.timeoutMs ?? 2_000,
    maxNetworkRetries: options.maxNetworkRetries ?? 0,
  });
}

function order(overrides: Partial<AuthorizeInput> = {}): AuthorizeInput {
  const orderId = randomUUID();
  return {
    storeId: randomUUID(),
    orderId,
    orderNumber: "1001",
    amount: 4_599,
    currency: "USD",
    paymentMethod: "pm_card_visa",
    idempotencyKey: `order:${orderId}:authorize`,
    ...overrides,
  };
}

function intentsOf(orderId: string) {
  return [...standIn.intents.values()].filter((i) => i.metadata.order_id === orderId);
}

async function authorized(input: AuthorizeInput = order()) {
  const outcome = await gateway().authorize(input);
  if (outcome.kind !== "authorized") throw new Error(`expected authorized, got ${JSON.stringify(outcome)}`);
  return { input, intentId: outcome.intentId };
}

async function captured() {
  const { input, intentId } = await authorized();
  const outcome = await gateway().capture({ intentId, idempotencyKey: `${input.idempotencyKey}:capture` });
  expect(outcome.kind).toBe("captured");
  return { input, intentId };
}

describe("authorize", () => {
  it("creates and confirms a manual-capture intent with the order's amount, currency, metadata and key", async () => {
    const input = order({ metadata: { order_id: "spoofed", channel: "web" }, email: "shopper@example.com" });
    const outcome = await gateway().authorize(input);

    expect(outcome).toMatchObject({ kind: "authorized", amountCapturable: 4_599 });
    expect(outcome.kind === "authorized" && outcome.cardFingerprint).toMatch(/^[0-9a-f]{16}$/);
    const [post, ...others] = standIn.posts("/v1/payment_intents");
    expect(others).toHaveLength(0);
    expect(post!.body).toMatchObject({
      amount: "4599",
      currency: "usd",
      capture_method: "manual",
      confirm: "true",
      payment_method: "pm_card_visa",
      receipt_email: "shopper@example.com",
      metadata: { order_id: input.orderId, store: input.storeId, order_number: "1001", channel: "web" },
    });
    expect(post!.idempotencyKey).toBe(input.idempotencyKey);
    expect(post!.headers.authorization).toBe(`Bearer ${standIn.secretKey}`);
    expect(intentsOf(input.orderId)).toHaveLength(1);
  });

  it("reports a declined card with its decline code and the intent Stripe created", async () => {
    const generic = await gateway().authorize(order({ paymentMethod: "pm_card_chargeDeclined" }));
    expect(generic).toMatchObject({
      kind: "declined",
      declineCode: "generic_decline",
      message: "Your card was declined.",
    });
    expect(generic.kind === "declined" && generic.intentId).toMatch(/^pi_/);

    const funds = await gateway().authorize(
      order({ paymentMethod: "pm_card_visa_chargeDeclinedInsufficientFunds" }),
    );
    expect(funds).toMatchObject({ kind: "declined", declineCode: "insufficient_funds" });
    expect(standIn.requests.map((r) => r.status)).toEqual([402, 402]);
  });

  it("reports an unknown payment method as declined, with no intent", async () => {
    const outcome = await gateway().authorize(order({ paymentMethod: "pm_made_up" }));
    expect(outcome).toEqual({
      kind: "declined",
      intentId: null,
      declineCode: "invalid_payment_method",
      message: "No such PaymentMethod: 'pm_made_up'",
    });
  });

  it("hands back the client secret when 3-D Secure is required", async () => {
    const outcome = await gateway().authorize(order({ paymentMethod: "pm_card_authenticationRequired" }));
    expect(outcome.kind).toBe("requires_action");
    if (outcome.kind !== "requires_action") return;
    expect(outcome.clientSecret).toBe(standIn.intents.get(outcome.intentId)!.client_secret);
  });

  it("survives a 500 through the SDK's own retry, which resends the same Idempotency-Key: one intent", async () => {
    const input = order();
    standIn.inject({ method: "POST", path: "/v1/payment_intents" }, { kind: "status", status: 500 });

    const outcome = await gateway({ maxNetworkRetries: 1 }).authorize(input);

    expect(outcome.kind).toBe("authorized");
    const posts = standIn.posts("/v1/payment_intents");
    expect(posts.map((p) => [p.handling, p.status, p.idempotencyKey])).toEqual([
      ["fault", 500, input.idempotencyKey],
      ["executed", 200, input.idempotencyKey],
    ]);
    expect(intentsOf(input.orderId)).toHaveLength(1);
  });

  it("answers unknown when the reply is lost, and a retry with the same key gets the same intent", async () => {
    const input = order();
    standIn.inject({ path: "/v1/payment_intents" }, { kind: "delay", ms: 1_500 });

    const first = await gateway({ timeoutMs: 150 }).authorize(input);
    expect(first).toMatchObject({ kind: "unknown", intentId: null });
    expect(first.kind === "unknown" && first.message).toMatch(/timeout/i);
    expect(intentsOf(input.orderId)).toHaveLength(1); // the request did reach "Stripe"

    const again = await gateway({ timeoutMs: 150 }).authorize(input);
    const [intent] = intentsOf(input.orderId);
    expect(again).toMatchObject({ kind: "authorized", intentId: intent!.id });
    expect(intentsOf(input.orderId)).toHaveLength(1);
    expect(standIn.posts("/v1/payment_intents").map((p) => p.handling)).toEqual(["executed", "replayed"]);
  });

  it("lets the SDK's own retry after a timeout collect the stored answer", async () => {
    const input = order();
    standIn.inject({ path: "/v1/payment_intents" }, { kind: "delay", ms: 1_500 });

    const outcome = await gateway({ timeoutMs: 150, maxNetworkRetries: 1 }).authorize(input);

    expect(outcome.kind).toBe("authorized");
    expect(intentsOf(input.orderId)).toHaveLength(1);
    const posts = standIn.posts("/v1/payment_intents");
    expect(posts.map((p) => p.idempotencyKey)).toEqual([input.idempotencyKey, input.idempotencyKey]);
  });

  it("retries a dropped connection once with the same key, even with retries off: one intent", async () => {
    const input = order();
    standIn.inject({ path: "/v1/payment_intents" }, { kind: "drop", afterExecute: true });

    const outcome = await gateway({ maxNetworkRetries: 0 }).authorize(input);

    expect(outcome.kind).toBe("authorized");
    expect(standIn.posts("/v1/payment_intents").map((p) => p.handling)).toEqual(["executed", "replayed"]);
    expect(intentsOf(input.orderId)).toHaveLength(1);
  });

  it("answers unknown after persistent 500s, without creating anything", async () => {
    const input = order();
    standIn.inject({ path: "/v1/payment_intents" }, { kind: "status", status: 500 }, 5);

    const outcome = await gateway({ maxNetworkRetries: 1 }).authorize(input);

    expect(outcome).toMatchObject({ kind: "unknown", intentId: null });
    expect(standIn.posts("/v1/payment_intents")).toHaveLength(2);
    expect(intentsOf(input.orderId)).toHaveLength(0);
  });

  it("answers unknown on 429 and on a refused connection", async () => {
    standIn.inject({ path: "/v1/payment_intents" }, { kind: "status", status: 429 });
    expect((await gateway().authorize(order())).kind).toBe("unknown");

    const url = standIn.url;
    await standIn.close();
    const offline = new StripeGateway({
      secretKey: "sk_test_x",
      webhookSecret: WEBHOOK_SECRET,
      apiBase: url,
      maxNetworkRetries: 0,
    });
    expect((await offline.authorize(order())).kind).toBe("unknown");
    standIn = await StripeStandIn.start();
  });

  it("throws on an idempotency key reused with other parameters: a caller bug, never a second intent", async () => {
    const input = order();
    await gateway().authorize(input);
    const error = await gateway()
      .authorize({ ...input, amount: input.amount + 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaymentGatewayError);
    expect((error as PaymentGatewayError).reason).toBe("idempotency_conflict");
    expect(intentsOf(input.orderId)).toHaveLength(1);
  });

  it("throws on a rejected API key: misconfiguration, not a decline", async () => {
    const error = await gateway({ secretKey: "sk_test_wrong" })
      .authorize(order())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaymentGatewayError);
    expect((error as PaymentGatewayError).reason).toBe("misconfigured");
  });

  it("refuses amounts and currencies out of bounds before sending anything", async () => {
    for (const bad of [
      { amount: 0 },
      { amount: 12.5 },
      { amount: 100_000_000 },
      { currency: "US" },
      { idempotencyKey: "" },
    ]) {
      await expect(gateway().authorize(order(bad))).rejects.toMatchObject({ reason: "invalid_input" });
    }
    expect(standIn.requests).toHaveLength(0);
  });
});

describe("capture", () => {
  it("captures the authorised amount, with its own idempotency key", async () => {
    const { input, intentId } = await authorized();
    const outcome = await gateway().capture({ intentId, idempotencyKey: `${input.idempotencyKey}:capture` });

    expect(outcome).toEqual({ kind: "captured", intentId, amountReceived: 4_599 });
    const [post] = standIn.posts(/\/capture$/);
    expect(post!.idempotencyKey).toBe(`${input.idempotencyKey}:capture`);
    expect(await gateway().retrieve(intentId)).toMatchObject({ status: "captured", amountReceived: 4_599 });
  });

  it("captures part of the hold when asked", async () => {
    const { intentId } = await authorized();
    const outcome = await gateway().capture({ intentId, amount: 1_000, idempotencyKey: randomUUID() });
    expect(outcome).toEqual({ kind: "captured", intentId, amountReceived: 1_000 });
    expect(standIn.posts(/\/capture$/)[0]!.body).toEqual({ amount_to_capture: "1000" });
  });

  it("reports an intent already captured under another key as captured (recovery may race the saga)", async () => {
    const { intentId } = await authorized();
    await gateway().capture({ intentId, idempotencyKey: randomUUID() });
    const again = await gateway().capture({ intentId, idempotencyKey: randomUUID() });
    expect(again).toEqual({ kind: "captured", intentId, amountReceived: 4_599 });
  });

  it("fails definitively on a cancelled intent and on more than the hold", async () => {
    const { intentId } = await authorized();
    const tooMuch = await gateway().capture({ intentId, amount: 5_000, idempotencyKey: randomUUID() });
    expect(tooMuch).toMatchObject({ kind: "failed", code: "amount_too_large" });

    await gateway().cancel({ intentId, idempotencyKey: randomUUID() });
    const outcome = await gateway().capture({ intentId, idempotencyKey: randomUUID() });
    expect(outcome).toMatchObject({ kind: "failed", code: "payment_intent_unexpected_state" });
    expect(outcome.kind === "failed" && outcome.message).toMatch(/status of canceled/);
  });

  it("answers unknown on a 500, and capture with the same key afterwards succeeds once", async () => {
    const { intentId } = await authorized();
    standIn.inject({ path: /\/capture$/ }, { kind: "status", status: 500 });
    const key = randomUUID();
    expect((await gateway().capture({ intentId, idempotencyKey: key })).kind).toBe("unknown");
    expect(await gateway().capture({ intentId, idempotencyKey: key })).toMatchObject({ kind: "captured" });
    expect(standIn.intents.get(intentId)!.amount_received).toBe(4_599);
  });
});

describe("cancel", () => {
  it("voids an authorisation; cancelling again (any key) is still a success", async () => {
    const { intentId } = await authorized();
    const cancelKey = randomUUID();
    const outcome = await gateway().cancel({ intentId, idempotencyKey: cancelKey, reason: "abandoned" });
    expect(outcome).toEqual({ kind: "cancelled", intentId });
    expect(standIn.posts(/\/cancel$/)[0]).toMatchObject({
      body: { cancellation_reason: "abandoned" },
      idempotencyKey: cancelKey,
    });
    expect(await gateway().cancel({ intentId, idempotencyKey: randomUUID() })).toEqual({
      kind: "cancelled",
      intentId,
    });
    expect(await gateway().retrieve(intentId)).toMatchObject({ status: "cancelled", amountCapturable: 0 });
  });

  it("fails definitively on a captured intent, and answers unknown on a 503", async () => {
    const { intentId } = await captured();
    const outcome = await gateway().cancel({ intentId, idempotencyKey: randomUUID() });
    expect(outcome).toMatchObject({ kind: "failed", code: "payment_intent_unexpected_state" });

    standIn.inject({ path: /\/cancel$/ }, { kind: "status", status: 503 });
    expect((await gateway().cancel({ intentId, idempotencyKey: randomUUID() })).kind).toBe("unknown");
  });
});

describe("refund", () => {
  it("refunds part, then the rest, and retrieve reports what was refunded", async () => {
    const { input, intentId } = await captured();
    const first = await gateway().refund({
      intentId,
      amount: 1_000,
      idempotencyKey: randomUUID(),
      reason: "damaged",
    });
    expect(first).toMatchObject({ kind: "refunded", amount: 1_000, status: "succeeded" });
    expect(first.kind === "refunded" && first.refundId).toMatch(/^re_/);
    expect(standIn.posts("/v1/refunds")[0]!.body).toEqual({
      payment_intent: intentId,
      amount: "1000",
      metadata: { reason: "damaged" },
    });
    expect(await gateway().refund({ intentId, amount: 3_599, idempotencyKey: randomUUID() })).toMatchObject({
      kind: "refunded",
      amount: 3_599,
    });
    expect(await gateway().retrieve(intentId)).toMatchObject({
      status: "captured",
      amountReceived: 4_599,
      amountRefunded: 4_599,
      orderId: input.orderId,
    });
  });

  it("replays a refund retried with the same key: refunded once", async () => {
    const { intentId } = await captured();
    const key = randomUUID();
    const first = await gateway().refund({ intentId, amount: 500, idempotencyKey: key });
    const second = await gateway().refund({ intentId, amount: 500, idempotencyKey: key });
    expect(second).toEqual(first);
    expect(standIn.refunds.size).toBe(1);
  });

  it("fails definitively beyond what was captured, and on an uncaptured intent", async () => {
    const { intentId } = await captured();
    const outcome = await gateway().refund({ intentId, amount: 4_600, idempotencyKey: randomUUID() });
    expect(outcome).toMatchObject({ kind: "failed", code: "amount_too_large" });

    const held = await authorized();
    const uncaptured = await gateway().refund({
      intentId: held.intentId,
      amount: 100,
      idempotencyKey: randomUUID(),
    });
    expect(uncaptured).toMatchObject({ kind: "failed", code: "charge_not_refundable" });
    expect(standIn.refunds.size).toBe(0);
  });

  it("answers unknown on a 500", async () => {
    const { intentId } = await captured();
    standIn.inject({ path: "/v1/refunds" }, { kind: "status", status: 500 });
    expect((await gateway().refund({ intentId, amount: 100, idempotencyKey: randomUUID() })).kind).toBe(
      "unknown",
    );
  });
});

describe("retrieve and findIntentsByOrder", () => {
  it("maps Stripe's statuses and metadata to ours", async () => {
    const { input, intentId } = await authorized();
    expect(await gateway().retrieve(intentId)).toMatchObject({
      intentId,
      status: "authorized",
      amount: 4_599,
      currency: "USD",
      amountCapturable: 4_599,
      amountReceived: 0,
      amountRefunded: 0,
      orderId: input.orderId,
      storeId: input.storeId,
      orderNumber: "1001",
      lastPaymentError: null,
    });
    const declined = await gateway().authorize(order({ paymentMethod: "pm_card_chargeDeclined" }));
    const declinedId = declined.kind === "declined" ? declined.intentId! : "";
    expect(await gateway().retrieve(declinedId)).toMatchObject({
      status: "requires_payment_method",
      lastPaymentError: { code: "card_declined", declineCode: "generic_decline" },
    });
    const action = await gateway().authorize(order({ paymentMethod: "pm_card_authenticationRequired" }));
    expect(await gateway().retrieve(action.kind === "requires_action" ? action.intentId : "")).toMatchObject({
      status: "requires_action",
    });
  });

  it("returns null for an intent Stripe does not have, and throws `unavailable` when it cannot ask", async () => {
    expect(await gateway().retrieve("pi_missing")).toBeNull();
    standIn.inject({ method: "GET" }, { kind: "status", status: 500 });
    await expect(gateway().retrieve("pi_missing")).rejects.toMatchObject({ reason: "unavailable" });
  });

  it("finds the intents created for an order whose intent id was never stored", async () => {
    const input = order();
    standIn.inject({ path: "/v1/payment_intents" }, { kind: "delay", ms: 1_000 });
    expect((await gateway({ timeoutMs: 100 }).authorize(input)).kind).toBe("unknown");
    await gateway().authorize(order()); // another order's intent, not to be found

    const found = await gateway().findIntentsByOrder({ storeId: input.storeId, orderId: input.orderId });

    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ status: "authorized", orderId: input.orderId, amount: 4_599 });
    const search = standIn.requests.find((r) => r.path === "/v1/payment_intents/search");
    expect(search!.query.query).toBe(
      `metadata['order_id']:'${input.orderId}' AND metadata['store']:'${input.storeId}'`,
    );
  });

  it("refuses to put anything but a plain id into a search query", async () => {
    await expect(
      gateway().findIntentsByOrder({ storeId: "s", orderId: "x' OR status:'succeeded" }),
    ).rejects.toMatchObject({
      reason: "invalid_input",
    });
  });
});

describe("webhooks from Stripe", () => {
  it("parses a signed event about a real intent", async () => {
    const { input, intentId } = await authorized();
    const { payload, header } = standIn.webhook(
      "payment_intent.amount_capturable_updated",
      intentId,
      WEBHOOK_SECRET,
    );
    const event = gateway().parseWebhook(Buffer.from(payload), header);
    expect(event).toMatchObject({
      type: "payment_intent.amount_capturable_updated",
      intentId,
      orderId: input.orderId,
      storeId: input.storeId,
      amount: 4_599,
      livemode: false,
      intent: { status: "authorized", amountCapturable: 4_599 },
    });
    expect(event.id).toMatch(/^evt_/);
  });

  it("rejects an event signed with another secret", async () => {
    const { intentId } = await authorized();
    const { payload, header } = standIn.webhook("payment_intent.succeeded", intentId, "whsec_someone_else");
    expect(() => gateway().parseWebhook(payload, header)).toThrow(WebhookSignatureError);
  });
});

describe("createPaymentGateway", () => {
  it("builds a StripeGateway from configuration when STRIPE_SECRET_KEY is set", async () => {
    const config = loadConfig({
      STRIPE_SECRET_KEY: standIn.secretKey,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_API_BASE: standIn.url,
      STRIPE_TIMEOUT_MS: "500",
      STRIPE_MAX_NETWORK_RETRIES: "0",
    });
    const configured = createPaymentGateway(config);
    expect(configured.name).toBe("stripe");
    expect((await configured.authorize(order())).kind).toBe("authorized");

    standIn.inject({ path: "/v1/payment_intents" }, { kind: "delay", ms: 2_000 });
    expect((await configured.authorize(order())).kind).toBe("unknown");
    // STRIPE_TIMEOUT_MS gave up before the held reply was sent, and STRIPE_MAX_NETWORK_RETRIES=0 sent no retry.
    const posts = standIn.posts("/v1/payment_intents");
    expect(posts.map((p) => p.status)).toEqual([200, null]);
  });

  it("rejects an API base with a path: the SDK always appends /v1 itself", () => {
    expect(
      () =>
        new StripeGateway({
          secretKey: "sk_test_x",
          webhookSecret: WEBHOOK_SECRET,
          apiBase: "http://127.0.0.1:1/api",
        }),
    ).toThrow(/origin only/);
  });
});
