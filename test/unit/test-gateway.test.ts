/**
 * The offline TestGateway: every token of its table, Stripe's idempotency rules, deterministic ids
 * that a new instance (a restarted process) still understands, and the call log tests rely on.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import {
  type AuthorizeInput,
  createPaymentGateway,
  PaymentGatewayError,
  TEST_TOKENS,
  TestGateway,
} from "../../src/payments/index.js";
import { TEST_GATEWAY_MEMORY } from "../../src/payments/test.gateway.js";

function order(overrides: Partial<AuthorizeInput> = {}): AuthorizeInput {
  const orderId = randomUUID();
  return {
    storeId: "store-1",
    orderId,
    orderNumber: "1001",
    amount: 3_000,
    currency: "USD",
    paymentMethod: "pm_card_visa",
    idempotencyKey: `order:${orderId}:authorize`,
    ...overrides,
  };
}

async function authorizedWith(gateway: TestGateway, paymentMethod = "pm_card_visa") {
  const input = order({ paymentMethod });
  const outcome = await gateway.authorize(input);
  if (outcome.kind !== "authorized") throw new Error(`expected authorized, got ${outcome.kind}`);
  return { input, intentId: outcome.intentId };
}

const key = () => randomUUID();

describe("authorize answers each token of the table", () => {
  it.each([
    ["pm_card_visa", { kind: "authorized", amountCapturable: 3_000 }],
    ["pm_card_mastercard", { kind: "authorized" }],
    ["tok_visa", { kind: "authorized" }],
    ["pm_card_chargeDeclined", { kind: "declined", declineCode: "generic_decline" }],
    ["pm_card_visa_chargeDeclinedInsufficientFunds", { kind: "declined", declineCode: "insufficient_funds" }],
    ["pm_card_chargeDeclinedExpiredCard", { kind: "declined", declineCode: "expired_card" }],
    ["pm_card_authenticationRequired", { kind: "requires_action" }],
    ["pm_test_timeout", { kind: "unknown", intentId: null }],
    ["pm_test_reply_lost", { kind: "unknown", intentId: null }],
    ["pm_test_capture_fails", { kind: "authorized" }],
    ["pm_test_capture_unknown", { kind: "authorized" }],
    ["pm_test_cancel_unknown", { kind: "authorized" }],
    ["pm_test_refund_fails", { kind: "authorized" }],
    ["pm_test_refund_unknown", { kind: "authorized" }],
    ["pm_card_unheard_of", { kind: "declined", intentId: null, declineCode: "invalid_payment_method" }],
    ["", { kind: "declined", intentId: null, declineCode: "invalid_payment_method" }],
    ["x".repeat(10_000), { kind: "declined", intentId: null, declineCode: "invalid_payment_method" }],
  ])("%s", async (paymentMethod, expected) => {
    expect(await new TestGateway().authorize(order({ paymentMethod }))).toMatchObject(expected);
  });

  it("covers every token of the table above", () => {
    expect(Object.keys(TEST_TOKENS)).toHaveLength(14);
  });

  it("gives a client secret for 3-D Secure, and a stable fingerprint per card", async () => {
    const gateway = new TestGateway();
    const action = await gateway.authorize(order({ paymentMethod: "pm_card_authenticationRequired" }));
    expect(action.kind === "requires_action" && action.clientSecret).toMatch(
      /^pi_test_.+_secret_[0-9a-f]{16}$/,
    );
    const a = await gateway.authorize(order());
    const b = await gateway.authorize(order());
    const c = await gateway.authorize(order({ paymentMethod: "pm_card_mastercard" }));
    const fingerprint = (o: typeof a) => (o.kind === "authorized" ? o.cardFingerprint : null);
    expect(fingerprint(a)).toBe(fingerprint(b));
    expect(fingerprint(a)).not.toBe(fingerprint(c));
  });

  it("gives pm_test_card_<label> a card of its own per label, and refuses a malformed label", async () => {
    const gateway = new TestGateway();
    const fingerprint = async (paymentMethod: string) => {
      const o = await gateway.authorize(order({ paymentMethod }));
      return o.kind === "authorized" ? o.cardFingerprint : o.kind;
    };
    const one = await fingerprint("pm_test_card_buyer_1");
    expect(one).toMatch(/^[0-9a-f]+$/);
    expect(await fingerprint("pm_test_card_buyer_1")).toBe(one);
    expect(await fingerprint("pm_test_card_buyer_2")).not.toBe(one);
    expect(await fingerprint("pm_test_card_")).toBe("declined");
    expect(await fingerprint(`pm_test_card_${"x".repeat(65)}`)).toBe("declined");
    expect(await fingerprint("pm_test_card_a.b")).toBe("declined");
  });

  it("refuses amounts out of bounds: a caller bug, thrown", async () => {
    const gateway = new TestGateway();
    for (const amount of [0, -1, 1.5, 100_000_000, Number.NaN]) {
      await expect(gateway.authorize(order({ amount }))).rejects.toMatchObject({ reason: "invalid_input" });
    }
    expect(gateway.log).toHaveLength(0);
  });
});

describe("idempotency, as Stripe", () => {
  it("answers the same key with the same intent and never holds twice", async () => {
    const gateway = new TestGateway();
    const input = order();
    const first = await gateway.authorize(input);
    const second = await gateway.authorize(input);
    expect(second).toEqual(first);
    expect(gateway.effects("authorize")).toBe(1);
    expect(gateway.log.map((c) => c.replayed)).toEqual([false, true]);
  });

  it("holds once when the same key races in concurrently", async () => {
    const gateway = new TestGateway({ latencyMs: 20 });
    const input = order();
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => gateway.authorize(input)));
    expect(new Set(outcomes.map((o) => JSON.stringify(o))).size).toBe(1);
    expect(gateway.effects("authorize")).toBe(1);
  });

  it("throws when a key is reused with other parameters", async () => {
    const gateway = new TestGateway();
    const input = order();
    await gateway.authorize(input);
    const error = await gateway.authorize({ ...input, amount: 3_001 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PaymentGatewayError);
    expect((error as PaymentGatewayError).reason).toBe("idempotency_conflict");
  });

  it("gives a new key for the same order a new intent (a second attempt after a decline)", async () => {
    const gateway = new TestGateway();
    const input = order();
    const first = await gateway.authorize(input);
    const retry = await gateway.authorize({ ...input, idempotencyKey: `${input.idempotencyKey}:2` });
    expect(
      first.kind === "authorized" && retry.kind === "authorized" && first.intentId !== retry.intentId,
    ).toBe(true);
  });

  it("replays a capture and a refund retried with the same key", async () => {
    const gateway = new TestGateway();
    const { intentId } = await authorizedWith(gateway);
    const captureKey = key();
    await gateway.capture({ intentId, idempotencyKey: captureKey });
    await gateway.capture({ intentId, idempotencyKey: captureKey });
    const refundKey = key();
    const refund = await gateway.refund({ intentId, amount: 1_000, idempotencyKey: refundKey });
    expect(await gateway.refund({ intentId, amount: 1_000, idempotencyKey: refundKey })).toEqual(refund);
    expect(gateway.effects("capture")).toBe(1);
    expect(gateway.effects("refund")).toBe(1);
    expect(await gateway.retrieve(intentId)).toMatchObject({ amountReceived: 3_000, amountRefunded: 1_000 });
  });
});

describe("deterministic ids survive a restart", () => {
  it("issues the same id for the same input in another instance", async () => {
    const input = order();
    const a = await new TestGateway().authorize(input);
    const b = await new TestGateway().authorize(input);
    expect(a.kind).toBe("authorized");
    expect(b).toEqual(a);
  });

  it("lets a new instance retrieve, capture and cancel what the old one issued", async () => {
    const before = new TestGateway();
    const { input, intentId } = await authorizedWith(before);
    const other = await authorizedWith(before);
    const declined = await before.authorize(order({ paymentMethod: "pm_card_chargeDeclined" }));
    const action = await before.authorize(order({ paymentMethod: "pm_card_authenticationRequired" }));

    const after = new TestGateway();
    expect(await after.retrieve(intentId)).toMatchObject({
      intentId,
      status: "authorized",
      amount: 3_000,
      currency: "USD",
      amountCapturable: 3_000,
      orderId: input.orderId,
      storeId: "store-1",
    });
    expect(await after.retrieve(declined.kind === "declined" ? declined.intentId! : "")).toMatchObject({
      status: "requires_payment_method",
      lastPaymentError: { declineCode: "generic_decline" },
    });
    expect(await after.retrieve(action.kind === "requires_action" ? action.intentId : "")).toMatchObject({
      status: "requires_action",
    });
    expect(await after.capture({ intentId, idempotencyKey: key() })).toEqual({
      kind: "captured",
      intentId,
      amountReceived: 3_000,
    });
    expect(await after.cancel({ intentId: other.intentId, idempotencyKey: key() })).toEqual({
      kind: "cancelled",
      intentId: other.intentId,
    });
    expect(await after.cancel({ intentId: other.intentId, idempotencyKey: key() })).toMatchObject({
      kind: "cancelled",
    });
  });

  it("knows nothing of ids it could not have issued", async () => {
    const gateway = new TestGateway();
    const timeoutId = `pi_test_${Buffer.from(JSON.stringify([1, "pm_test_timeout", 1, "USD", "s", "o", "k"])).toString("base64url")}`;
    for (const id of ["pi_3PqA", "pi_test_", "pi_test_%%%", "pi_test_bm90IGpzb24", timeoutId]) {
      expect(await gateway.retrieve(id)).toBeNull();
    }
    expect(await gateway.capture({ intentId: "pi_nope", idempotencyKey: key() })).toMatchObject({
      kind: "failed",
      code: "resource_missing",
    });
  });
});

describe("the intent's life", () => {
  it("captures part, refuses more than the hold, and refunds up to what was captured", async () => {
    const gateway = new TestGateway();
    const { intentId } = await authorizedWith(gateway);
    expect(await gateway.capture({ intentId, amount: 3_001, idempotencyKey: key() })).toMatchObject({
      kind: "failed",
      code: "amount_too_large",
    });
    expect(await gateway.capture({ intentId, amount: 2_000, idempotencyKey: key() })).toMatchObject({
      kind: "captured",
      amountReceived: 2_000,
    });
    expect(await gateway.refund({ intentId, amount: 2_001, idempotencyKey: key() })).toMatchObject({
      kind: "failed",
      code: "amount_too_large",
    });
    expect(await gateway.refund({ intentId, amount: 1_500, idempotencyKey: key() })).toMatchObject({
      kind: "refunded",
    });
    expect(await gateway.refund({ intentId, amount: 500, idempotencyKey: key() })).toMatchObject({
      kind: "refunded",
    });
    expect(await gateway.refund({ intentId, amount: 1, idempotencyKey: key() })).toMatchObject({
      kind: "failed",
      code: "charge_already_refunded",
    });
    expect(await gateway.retrieve(intentId)).toMatchObject({
      status: "captured",
      amountReceived: 2_000,
      amountRefunded: 2_000,
    });
  });

  it("fails a capture of a cancelled intent, a cancel of a captured one, a refund of an uncaptured one", async () => {
    const gateway = new TestGateway();
    const cancelled = await authorizedWith(gateway);
    await gateway.cancel({ intentId: cancelled.intentId, idempotencyKey: key() });
    expect(await gateway.capture({ intentId: cancelled.intentId, idempotencyKey: key() })).toMatchObject({
      kind: "failed",
      code: "payment_intent_unexpected_state",
    });
    const held = await authorizedWith(gateway);
    expect(
      await gateway.refund({ intentId: held.intentId, amount: 10, idempotencyKey: key() }),
    ).toMatchObject({
      kind: "failed",
      code: "payment_intent_unexpected_state",
    });
    await gateway.capture({ intentId: held.intentId, idempotencyKey: key() });
    expect(await gateway.cancel({ intentId: held.intentId, idempotencyKey: key() })).toMatchObject({
      kind: "failed",
      code: "payment_intent_unexpected_state",
    });
    expect(await gateway.capture({ intentId: held.intentId, idempotencyKey: key() })).toMatchObject({
      kind: "captured",
    });
  });

  it("finishes 3-D Secure through completeAction and its signed webhook", async () => {
    const gateway = new TestGateway();
    const outcome = await gateway.authorize(order({ paymentMethod: "pm_card_authenticationRequired" }));
    const intentId = outcome.kind === "requires_action" ? outcome.intentId : "";
    expect(await gateway.capture({ intentId, idempotencyKey: key() })).toMatchObject({ kind: "failed" });

    const webhook = gateway.completeAction(intentId);
    expect(gateway.parseWebhook(webhook.payload, webhook.header)).toMatchObject({
      type: "payment_intent.amount_capturable_updated",
      intentId,
      intent: { status: "authorized", amountCapturable: 3_000 },
    });
    expect(await gateway.capture({ intentId, idempotencyKey: key() })).toMatchObject({ kind: "captured" });

    const failing = await gateway.authorize(order({ paymentMethod: "pm_card_authenticationRequired" }));
    const failedId = failing.kind === "requires_action" ? failing.intentId : "";
    const failed = gateway.completeAction(failedId, "declined");
    expect(gateway.parseWebhook(failed.payload, failed.header)).toMatchObject({
      type: "payment_intent.payment_failed",
      intent: { status: "requires_payment_method" },
    });
    expect(() => gateway.completeAction(failedId)).toThrow(PaymentGatewayError);
  });
});

describe("fault tokens", () => {
  it("pm_test_timeout: unknown every time, and nothing exists to find", async () => {
    const gateway = new TestGateway();
    const input = order({ paymentMethod: "pm_test_timeout" });
    expect((await gateway.authorize(input)).kind).toBe("unknown");
    expect((await gateway.authorize(input)).kind).toBe("unknown");
    expect(await gateway.findIntentsByOrder({ storeId: input.storeId, orderId: input.orderId })).toEqual([]);
    expect(gateway.effects("authorize")).toBe(0);
  });

  it("pm_test_reply_lost: the hold was made; replaying the key or searching the order reveals it", async () => {
    const gateway = new TestGateway();
    const input = order({ paymentMethod: "pm_test_reply_lost" });
    expect(await gateway.authorize(input)).toMatchObject({ kind: "unknown", intentId: null });

    const [found, ...more] = await gateway.findIntentsByOrder({
      storeId: input.storeId,
      orderId: input.orderId,
    });
    expect(more).toHaveLength(0);
    expect(found).toMatchObject({ status: "authorized", orderId: input.orderId, amount: 3_000 });
    expect(await gateway.authorize(input)).toMatchObject({ kind: "authorized", intentId: found!.intentId });
    expect(gateway.effects("authorize")).toBe(1);
    expect(await gateway.findIntentsByOrder({ storeId: "another-store", orderId: input.orderId })).toEqual(
      [],
    );
  });

  it("pm_test_capture_fails / pm_test_capture_unknown", async () => {
    const gateway = new TestGateway();
    const fails = await authorizedWith(gateway, "pm_test_capture_fails");
    expect(await gateway.capture({ intentId: fails.intentId, idempotencyKey: key() })).toMatchObject({
      kind: "failed",
      code: "charge_expired_for_capture",
    });
    const unknown = await authorizedWith(gateway, "pm_test_capture_unknown");
    expect((await gateway.capture({ intentId: unknown.intentId, idempotencyKey: key() })).kind).toBe(
      "unknown",
    );
    expect(await gateway.retrieve(unknown.intentId)).toMatchObject({ status: "authorized" });
    expect(await gateway.cancel({ intentId: unknown.intentId, idempotencyKey: key() })).toMatchObject({
      kind: "cancelled",
    });
  });

  it("pm_test_cancel_unknown", async () => {
    const gateway = new TestGateway();
    const { intentId } = await authorizedWith(gateway, "pm_test_cancel_unknown");
    expect((await gateway.cancel({ intentId, idempotencyKey: key() })).kind).toBe("unknown");
    expect(await gateway.retrieve(intentId)).toMatchObject({ status: "authorized" });
  });

  it("pm_test_refund_fails / pm_test_refund_unknown", async () => {
    const gateway = new TestGateway();
    for (const [token, kind] of [
      ["pm_test_refund_fails", "failed"],
      ["pm_test_refund_unknown", "unknown"],
    ] as const) {
      const { intentId } = await authorizedWith(gateway, token);
      await gateway.capture({ intentId, idempotencyKey: key() });
      expect((await gateway.refund({ intentId, amount: 100, idempotencyKey: key() })).kind).toBe(kind);
      expect(await gateway.retrieve(intentId)).toMatchObject({ amountRefunded: 0 });
    }
  });
});

describe("call log", () => {
  it("records every call, in order, with its input and outcome", async () => {
    const gateway = new TestGateway();
    const { input, intentId } = await authorizedWith(gateway);
    await gateway.capture({ intentId, idempotencyKey: `${input.idempotencyKey}:capture` });
    await gateway.retrieve(intentId);

    expect(gateway.log.map((c) => [c.method, c.effect])).toEqual([
      ["authorize", true],
      ["capture", true],
      ["retrieve", false],
    ]);
    expect(gateway.log[0]).toMatchObject({
      seq: 1,
      input: { orderId: input.orderId, amount: 3_000 },
      replayed: false,
    });
    expect(gateway.log[1]!.at).toBeInstanceOf(Date);
    expect(gateway.effects("authorize")).toBe(1);
    expect(gateway.effects("capture")).toBe(1);
    gateway.clearLog();
    expect(gateway.log).toHaveLength(0);
  });
});

describe("createPaymentGateway", () => {
  it("uses the TestGateway without STRIPE_SECRET_KEY, with STRIPE_WEBHOOK_SECRET when given", () => {
    const gateway = createPaymentGateway(loadConfig({ STRIPE_WEBHOOK_SECRET: "whsec_configured" }));
    expect(gateway).toBeInstanceOf(TestGateway);
    expect((gateway as TestGateway).webhookSecret).toBe("whsec_configured");
    expect(createPaymentGateway(loadConfig({})).name).toBe("test");
  });

  it("refuses production without a Stripe key", () => {
    expect(() =>
      createPaymentGateway(loadConfig({ NODE_ENV: "production", JWT_SECRET: "x".repeat(32) })),
    ).toThrow(/STRIPE_SECRET_KEY/);
  });

  it("uses Stripe when STRIPE_SECRET_KEY is set", () => {
    const config = loadConfig({ STRIPE_SECRET_KEY: "sk_test_abc", STRIPE_WEBHOOK_SECRET: "whsec_abc" });
    expect(createPaymentGateway(config).name).toBe("stripe");
  });
});

describe("memory", () => {
  it("keeps the newest calls, intents and keys only, and still serves an intent it forgot", async () => {
    const gateway = new TestGateway({ memory: { calls: 50, records: 20 } });
    const first = await authorizedWith(gateway);
    for (let i = 0; i < 300; i++) await authorizedWith(gateway);
    expect(gateway.log.length).toBeLessThanOrEqual(50);
    expect(gateway.log.at(-1)?.seq).toBe(301);
    const inner = gateway as unknown as { intents: Map<string, unknown>; idempotency: Map<string, unknown> };
    expect(inner.intents.size).toBeLessThanOrEqual(20);
    expect(inner.idempotency.size).toBeLessThanOrEqual(20);
    // Forgotten, as after a restart: the deterministic id still says what the token did.
    const captured = await gateway.capture({ intentId: first.intentId, idempotencyKey: key() });
    expect(captured.kind).toBe("captured");
  });

  it("holds at most its default bound of intents and keys however many orders it has seen", async () => {
    // What the server without a Stripe key uses: a soak of hours must not keep every payment.
    expect(TEST_GATEWAY_MEMORY.records).toBeLessThanOrEqual(5_000);
    expect(TEST_GATEWAY_MEMORY.calls).toBeLessThanOrEqual(1_000);
    const gateway = createPaymentGateway(loadConfig({})) as TestGateway;
    for (let i = 0; i < TEST_GATEWAY_MEMORY.records + 500; i++) {
      const { intentId } = await authorizedWith(gateway);
      await gateway.capture({ intentId, idempotencyKey: key() });
    }
    const inner = gateway as unknown as { intents: { size: number }; idempotency: { size: number } };
    expect(inner.intents.size).toBe(TEST_GATEWAY_MEMORY.records);
    expect(inner.idempotency.size).toBe(TEST_GATEWAY_MEMORY.records);
    expect(gateway.log.length).toBeLessThanOrEqual(TEST_GATEWAY_MEMORY.calls);
  });

  it("counts effects whatever the log has dropped, and keeps no log with calls: 0", async () => {
    const gateway = new TestGateway({ memory: { calls: 10 } });
    for (let i = 0; i < 25; i++) {
      const { intentId } = await authorizedWith(gateway);
      await gateway.capture({ intentId, idempotencyKey: key() });
    }
    expect(gateway.log.length).toBeLessThanOrEqual(10);
    expect(gateway.effects("authorize")).toBe(25);
    expect(gateway.effects("capture")).toBe(25);
    gateway.clearLog();
    expect(gateway.effects("capture")).toBe(0);

    const silent = new TestGateway({ memory: { calls: 0 } });
    for (let i = 0; i < 5; i++) await authorizedWith(silent);
    expect(silent.log).toHaveLength(0);
    expect(silent.effects("authorize")).toBe(5);
  });

  it("forgets intents and keys older than maxAgeMs, as if restarted", async () => {
    let now = new Date("2026-12-02T00:00:00Z");
    const gateway = new TestGateway({ now: () => now, memory: { maxAgeMs: 60_000 } });
    const { input, intentId } = await authorizedWith(gateway);
    const captureKey = key();
    expect(await gateway.capture({ intentId, idempotencyKey: captureKey })).toMatchObject({
      kind: "captured",
    });
    now = new Date(now.getTime() + 30_000);
    // Within the window: the capture is remembered and the authorisation key replays.
    expect((await gateway.retrieve(intentId))?.status).toBe("captured");
    expect(await gateway.authorize(input)).toMatchObject({ kind: "authorized", intentId });
    expect(gateway.effects("authorize")).toBe(1);
    now = new Date(now.getTime() + 61_000);
    // Past it: the intent reads as its token left it (authorised), as after a restart.
    expect((await gateway.retrieve(intentId))?.status).toBe("authorized");
    const inner = gateway as unknown as { intents: { size: number }; idempotency: { size: number } };
    await authorizedWith(gateway);
    expect(inner.idempotency.size).toBe(1);
  });
});
