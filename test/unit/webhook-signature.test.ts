/**
 * Webhook verification, shared by both gateways: only a body signed with our secret, within the
 * 300 s tolerance and unmodified, becomes an event. Signatures are made with the SDK's own
 * generateTestHeaderString (through signWebhookPayload).
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  StripeGateway,
  signWebhookPayload,
  TestGateway,
  WEBHOOK_TOLERANCE_SECONDS,
  WebhookSignatureError,
} from "../../src/payments/index.js";

const SECRET = "whsec_unit_test_secret";
const stripe = new StripeGateway({
  secretKey: "sk_test_unused",
  webhookSecret: SECRET,
  apiBase: "http://127.0.0.1:9",
});
const nowSeconds = () => Math.floor(Date.now() / 1000);

const orderId = randomUUID();
const storeId = randomUUID();
const intentEvent = JSON.stringify({
  id: "evt_1PqA",
  object: "event",
  type: "payment_intent.succeeded",
  created: 1_767_225_600,
  livemode: false,
  data: {
    object: {
      id: "pi_3PqA",
      object: "payment_intent",
      amount: 2_500,
      amount_capturable: 0,
      amount_received: 2_500,
      currency: "eur",
      status: "succeeded",
      client_secret: "pi_3PqA_secret_x",
      created: 1_767_225_500,
      last_payment_error: null,
      latest_charge: "ch_3PqA",
      metadata: { order_id: orderId, store: storeId, order_number: "1042" },
    },
  },
});

function rejects(
  body: string | Buffer,
  header: string | undefined,
  gateway: { parseWebhook: typeof stripe.parseWebhook } = stripe,
) {
  expect(() => gateway.parseWebhook(body, header)).toThrow(WebhookSignatureError);
}

describe("parseWebhook", () => {
  it("turns a correctly signed body into our event: ids, type, order and store from metadata", () => {
    const { payload, header } = signWebhookPayload(intentEvent, SECRET);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const event = stripe.parseWebhook(Buffer.from(payload), header);
    expect(event).toEqual({
      id: "evt_1PqA",
      type: "payment_intent.succeeded",
      created: new Date("2026-01-01T00:00:00.000Z"),
      livemode: false,
      intentId: "pi_3PqA",
      orderId,
      storeId,
      amount: 2_500,
      intent: {
        intentId: "pi_3PqA",
        status: "captured",
        amount: 2_500,
        currency: "EUR",
        amountCapturable: 0,
        amountReceived: 2_500,
        orderId,
        storeId,
        orderNumber: "1042",
        clientSecret: "pi_3PqA_secret_x",
        lastPaymentError: null,
        created: new Date(1_767_225_500 * 1000),
      },
    });
  });

  it("finds the intent and order of a charge event", () => {
    const body = JSON.stringify({
      id: "evt_2",
      object: "event",
      type: "charge.refunded",
      created: nowSeconds(),
      livemode: false,
      data: {
        object: {
          id: "ch_1",
          object: "charge",
          amount: 900,
          payment_intent: "pi_9",
          metadata: { order_id: orderId, store: storeId },
        },
      },
    });
    const { payload, header } = signWebhookPayload(body, SECRET);
    expect(stripe.parseWebhook(payload, header)).toMatchObject({
      type: "charge.refunded",
      intentId: "pi_9",
      orderId,
      storeId,
      amount: 900,
      intent: null,
    });
  });

  it("rejects a delivery with no signature header", () => {
    rejects(intentEvent, undefined);
    rejects(intentEvent, "");
    rejects(intentEvent, "garbage");
  });

  it("rejects a body signed with another secret", () => {
    const { payload, header } = signWebhookPayload(intentEvent, "whsec_attacker");
    rejects(payload, header);
  });

  it("rejects a signature older than the tolerance, and accepts one just inside it", () => {
    const stale = signWebhookPayload(intentEvent, SECRET, nowSeconds() - WEBHOOK_TOLERANCE_SECONDS - 5);
    rejects(stale.payload, stale.header);
    const fresh = signWebhookPayload(intentEvent, SECRET, nowSeconds() - WEBHOOK_TOLERANCE_SECONDS + 30);
    expect(stripe.parseWebhook(fresh.payload, fresh.header).id).toBe("evt_1PqA");
  });

  it("rejects a tampered body, however small the change", () => {
    const { payload, header } = signWebhookPayload(intentEvent, SECRET);
    rejects(payload.replace('"amount":2500', '"amount":2501'), header);
    rejects(`${payload} `, header);
  });

  it("rejects a signed body that is not an event", () => {
    for (const body of ["not json", JSON.stringify({ hello: "world" })]) {
      const { payload, header } = signWebhookPayload(body, SECRET);
      rejects(payload, header);
    }
  });

  it("verifies the TestGateway's events with its own secret, in the same format", async () => {
    const gateway = new TestGateway({ webhookSecret: SECRET });
    const outcome = await gateway.authorize({
      storeId,
      orderId,
      orderNumber: "7",
      amount: 1_200,
      currency: "USD",
      paymentMethod: "pm_card_visa",
      idempotencyKey: `order:${orderId}`,
    });
    const intentId = outcome.kind === "authorized" ? outcome.intentId : "";
    const signed = gateway.signEvent("payment_intent.amount_capturable_updated", intentId);
    // Same secret, same format: the Stripe gateway accepts it too.
    expect(stripe.parseWebhook(signed.payload, signed.header)).toMatchObject({
      intentId,
      orderId,
      storeId,
      amount: 1_200,
    });
    expect(gateway.parseWebhook(signed.payload, signed.header).intent).toMatchObject({
      status: "authorized",
      orderNumber: "7",
    });

    const other = new TestGateway();
    rejects(signed.payload, signed.header, other);
    const stale = gateway.signEvent("payment_intent.succeeded", intentId, { timestamp: nowSeconds() - 600 });
    rejects(stale.payload, stale.header, gateway);
  });
});
