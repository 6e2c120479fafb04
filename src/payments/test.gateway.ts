/**
 * The PaymentGateway for embedded mode and offline tests: no network, Stripe's test tokens and a few
 * fault tokens (the table is in test-tokens.ts), Stripe's idempotency rules, and a call log tests can
 * assert on ("one authorisation, one capture").
 *
 * What survives a restart: intent ids are deterministic and self-describing (test-intent-id.ts), so a
 * new instance retrieves an intent an old one issued as its token left it (authorised, declined,
 * waiting for 3-D Secure) and can capture or cancel it. What does not: this process's overlay of later
 * changes (captured, cancelled, refunded) and its idempotency keys; after a restart a captured intent
 * reads as authorised again. Real money never moves here, so recovery stays safe; an exact history is
 * the database's job.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type {
  AuthorizeInput,
  AuthorizeOutcome,
  CancelInput,
  CancelOutcome,
  CaptureInput,
  CaptureOutcome,
  FindIntentsInput,
  IntentState,
  IntentStatus,
  PaymentGateway,
  RefundInput,
  RefundOutcome,
  WebhookEvent,
} from "./gateway.js";
import { PaymentGatewayError } from "./gateway.js";
import {
  checkAmount,
  checkAuthorizeInput,
  checkIdempotencyKey,
  checkIntentId,
  isMalformedPaymentMethod,
} from "./input.js";
import {
  decodeTestIntentId,
  encodeTestIntentId,
  hashOf,
  type TestIntentFacts,
  testCardFingerprint,
  testClientSecret,
} from "./test-intent-id.js";
import { type TestToken, testToken } from "./test-tokens.js";
import { type SignedWebhook, signWebhookPayload, verifyWebhook } from "./webhook.js";

export type GatewayMethod = "authorize" | "capture" | "cancel" | "refund" | "retrieve" | "findIntentsByOrder";

export interface GatewayCall {
  seq: number;
  method: GatewayMethod;
  input: unknown;
  outcome: unknown;
  /** Answered from the idempotency store: the same key was seen before. */
  replayed: boolean;
  /** The call changed the processor's state: a new hold, a capture, a void, a refund. */
  effect: boolean;
  at: Date;
}

export interface TestGatewayOptions {
  /** Secret for `parseWebhook` and `signEvent`; default: random per instance (nobody can forge one). */
  webhookSecret?: string;
  /** Artificial delay before every answer, to widen race windows in tests. */
  latencyMs?: number;
  now?: () => Date;
  /**
   * How much this process remembers: the newest `calls` log entries (0: no log), and the newest
   * `records` intents and idempotency keys each, none of them longer than `maxAgeMs` after it was
   * last written. Without a bound a long-running embedded server (or a soak) grows by every checkout.
   * Forgetting an intent is what a restart does (see the top of this file).
   */
  memory?: { calls?: number; records?: number; maxAgeMs?: number };
}

/**
 * Defaults of TestGatewayOptions.memory, for tests and for the server without a Stripe key alike.
 * Measured on Node 20 (3-line checkouts: authorise + capture): a log entry ~0.9 KB, an intent ~0.7 KB,
 * an idempotency key ~0.6 KB (an order uses two). At the caps: log 0.9 MiB, intents 3.4 MiB, keys
 * 2.8 MiB, about 7 MiB in all. A test reads the log right after its own calls, and a saga's retries
 * come within minutes; an order refunded after its intent was forgotten is refused as after a
 * restart. `maxAgeMs` is the 24 hours Stripe keeps an idempotency key.
 */
export const TEST_GATEWAY_MEMORY = { calls: 1_000, records: 5_000, maxAgeMs: 24 * 60 * 60 * 1000 } as const;

/**
 * A Map that keeps at most `limit` entries, none older than `maxAgeMs` since it was last set: the
 * oldest go first (a Map iterates in insertion order and `set` moves an entry to the end).
 */
class BoundedMap<K, V> {
  private readonly entries = new Map<K, { value: V; at: number }>();

  constructor(
    private readonly limit: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.at <= this.maxAgeMs) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: K, value: V): void {
    const at = this.now();
    this.entries.delete(key);
    this.entries.set(key, { value, at });
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.limit && at - entry.at <= this.maxAgeMs) break;
      this.entries.delete(oldest);
    }
  }

  *[Symbol.iterator](): IterableIterator<[K, V]> {
    const now = this.now();
    for (const [key, entry] of this.entries) if (now - entry.at <= this.maxAgeMs) yield [key, entry.value];
  }
}

interface IntentRecord {
  facts: TestIntentFacts;
  status: IntentStatus;
  amountCapturable: number;
  amountReceived: number;
  amountRefunded: number;
  lastPaymentError: IntentState["lastPaymentError"];
  orderNumber: string | null;
  created: Date;
}

interface StoredResult {
  fingerprint: string;
  outcome: unknown;
}

const UNKNOWN_TOKEN = {
  declineCode: "invalid_payment_method",
  message: "The payment method is not recognised.",
};

const stripeStatus: Record<IntentStatus, string> = {
  requires_payment_method: "requires_payment_method",
  requires_action: "requires_action",
  processing: "processing",
  authorized: "requires_capture",
  captured: "succeeded",
  cancelled: "canceled",
};

function unexpectedState(action: string, status: IntentStatus) {
  return {
    kind: "failed" as const,
    code: "payment_intent_unexpected_state",
    message: `This PaymentIntent could not be ${action} because it has a status of ${stripeStatus[status]}.`,
  };
}

export class TestGateway implements PaymentGateway {
  readonly name = "test" as const;
  readonly webhookSecret: string;
  latencyMs: number;
  private readonly now: () => Date;
  private readonly intents: BoundedMap<string, IntentRecord>;
  private readonly idempotency: BoundedMap<string, StoredResult>;
  private readonly calls: GatewayCall[] = [];
  private callCount = 0;
  /** Calls that changed state, per method, since the start or clearLog (whatever the log kept). */
  private readonly effectCounts = new Map<GatewayMethod, number>();
  private readonly memory: { calls: number; records: number; maxAgeMs: number };

  constructor(options: TestGatewayOptions = {}) {
    this.webhookSecret = options.webhookSecret ?? `whsec_test_${randomBytes(24).toString("hex")}`;
    this.latencyMs = options.latencyMs ?? 0;
    const now = options.now ?? (() => new Date());
    this.now = now;
    this.memory = { ...TEST_GATEWAY_MEMORY, ...options.memory };
    const clock = () => now().getTime();
    this.intents = new BoundedMap(this.memory.records, this.memory.maxAgeMs, clock);
    this.idempotency = new BoundedMap(this.memory.records, this.memory.maxAgeMs, clock);
  }

  /** The calls so far (the newest `memory.calls` of them), oldest first. */
  get log(): readonly GatewayCall[] {
    return this.calls;
  }

  /** How many calls of `method` changed state (replays and failures do not), log bound or not. */
  effects(method: GatewayMethod): number {
    return this.effectCounts.get(method) ?? 0;
  }

  clearLog(): void {
    this.calls.length = 0;
    this.callCount = 0;
    this.effectCounts.clear();
  }

  async authorize(input: AuthorizeInput): Promise<AuthorizeOutcome> {
    const { metadata } = checkAuthorizeInput(input);
    await this.delay();
    const fingerprint = JSON.stringify([
      "authorize",
      input.amount,
      input.currency.toUpperCase(),
      input.paymentMethod,
      metadata,
      input.email ?? null,
    ]);
    const stored = this.replay<AuthorizeOutcome>(input.idempotencyKey, fingerprint);
    if (stored) return this.record("authorize", input, stored, { replayed: true });

    const token = isMalformedPaymentMethod(input.paymentMethod) ? null : testToken(input.paymentMethod);
    if (!token) {
      const outcome: AuthorizeOutcome = { kind: "declined", intentId: null, ...UNKNOWN_TOKEN };
      return this.remember("authorize", input, fingerprint, outcome);
    }
    if (token.authorize.kind === "timeout") {
      // Nothing reached the card network: Stripe would keep no result, so nothing is stored either.
      return this.record("authorize", input, {
        kind: "unknown",
        intentId: null,
        message: "Request to the payment processor timed out",
      });
    }
    const facts: TestIntentFacts = {
      token: input.paymentMethod,
      amount: input.amount,
      currency: input.currency.toUpperCase(),
      storeId: input.storeId,
      orderId: input.orderId,
      keyHash: hashOf(`key:${input.idempotencyKey}`, 12),
    };
    const intentId = encodeTestIntentId(facts);
    const record = this.intents.get(intentId) ?? this.baseline(facts, token);
    record.orderNumber = input.orderNumber;
    this.intents.set(intentId, record);
    const outcome = this.authorizeOutcome(intentId, record);
    if (token.authorize.kind === "reply_lost") {
      this.idempotency.set(input.idempotencyKey, { fingerprint, outcome });
      return this.record(
        "authorize",
        input,
        { kind: "unknown", intentId: null, message: "The processor's reply was lost" },
        { effect: true },
      );
    }
    return this.remember("authorize", input, fingerprint, outcome, record.status === "authorized");
  }

  async capture(input: CaptureInput): Promise<CaptureOutcome> {
    checkIntentId(input.intentId);
    checkIdempotencyKey(input.idempotencyKey);
    if (input.amount !== undefined) checkAmount(input.amount);
    await this.delay();
    const fingerprint = JSON.stringify(["capture", input.intentId, input.amount ?? null]);
    const stored = this.replay<CaptureOutcome>(input.idempotencyKey, fingerprint);
    if (stored) return this.record("capture", input, stored, { replayed: true });
    const record = this.lookup(input.intentId);
    if (!record) return this.remember("capture", input, fingerprint, missing(input.intentId));
    if (record.status === "captured") {
      const outcome: CaptureOutcome = {
        kind: "captured",
        intentId: input.intentId,
        amountReceived: record.amountReceived,
      };
      return this.remember("capture", input, fingerprint, outcome);
    }
    if (record.status !== "authorized") {
      return this.remember("capture", input, fingerprint, unexpectedState("captured", record.status));
    }
    const fault = testToken(record.facts.token)?.fault;
    if (fault === "capture_unknown") {
      return this.record("capture", input, { kind: "unknown", message: "Capture timed out" });
    }
    if (fault === "capture_fails") {
      const outcome: CaptureOutcome = {
        kind: "failed",
        code: "charge_expired_for_capture",
        message: "The charge has expired and can no longer be captured.",
      };
      return this.remember("capture", input, fingerprint, outcome);
    }
    const amount = input.amount ?? record.amountCapturable;
    if (amount > record.amountCapturable) {
      const outcome: CaptureOutcome = {
        kind: "failed",
        code: "amount_too_large",
        message: `The amount to capture (${amount}) exceeds the capturable amount (${record.amountCapturable}).`,
      };
      return this.remember("capture", input, fingerprint, outcome);
    }
    record.status = "captured";
    record.amountReceived = amount;
    record.amountCapturable = 0;
    const outcome: CaptureOutcome = { kind: "captured", intentId: input.intentId, amountReceived: amount };
    return this.remember("capture", input, fingerprint, outcome, true);
  }

  async cancel(input: CancelInput): Promise<CancelOutcome> {
    checkIntentId(input.intentId);
    checkIdempotencyKey(input.idempotencyKey);
    await this.delay();
    const fingerprint = JSON.stringify(["cancel", input.intentId, input.reason ?? null]);
    const stored = this.replay<CancelOutcome>(input.idempotencyKey, fingerprint);
    if (stored) return this.record("cancel", input, stored, { replayed: true });
    const record = this.lookup(input.intentId);
    if (!record) return this.remember("cancel", input, fingerprint, missing(input.intentId));
    const cancelled: CancelOutcome = { kind: "cancelled", intentId: input.intentId };
    if (record.status === "cancelled") return this.remember("cancel", input, fingerprint, cancelled);
    if (record.status === "captured") {
      return this.remember("cancel", input, fingerprint, unexpectedState("canceled", record.status));
    }
    if (testToken(record.facts.token)?.fault === "cancel_unknown") {
      return this.record("cancel", input, { kind: "unknown", message: "Cancellation timed out" });
    }
    record.status = "cancelled";
    record.amountCapturable = 0;
    return this.remember("cancel", input, fingerprint, cancelled, true);
  }

  async refund(input: RefundInput): Promise<RefundOutcome> {
    checkIntentId(input.intentId);
    checkIdempotencyKey(input.idempotencyKey);
    checkAmount(input.amount);
    await this.delay();
    const fingerprint = JSON.stringify(["refund", input.intentId, input.amount, input.reason ?? null]);
    const stored = this.replay<RefundOutcome>(input.idempotencyKey, fingerprint);
    if (stored) return this.record("refund", input, stored, { replayed: true });
    const record = this.lookup(input.intentId);
    if (!record) return this.remember("refund", input, fingerprint, missing(input.intentId));
    if (record.status !== "captured") {
      return this.remember("refund", input, fingerprint, unexpectedState("refunded", record.status));
    }
    const refundable = record.amountReceived - record.amountRefunded;
    if (refundable === 0) {
      const outcome: RefundOutcome = {
        kind: "failed",
        code: "charge_already_refunded",
        message: "The charge has already been refunded.",
      };
      return this.remember("refund", input, fingerprint, outcome);
    }
    if (input.amount > refundable) {
      const outcome: RefundOutcome = {
        kind: "failed",
        code: "amount_too_large",
        message: `Refund amount (${input.amount}) is greater than the unrefunded amount (${refundable}).`,
      };
      return this.remember("refund", input, fingerprint, outcome);
    }
    const fault = testToken(record.facts.token)?.fault;
    if (fault === "refund_unknown")
      return this.record("refund", input, { kind: "unknown", message: "Refund timed out" });
    if (fault === "refund_fails") {
      const outcome: RefundOutcome = {
        kind: "failed",
        code: "charge_disputed",
        message: "The charge has been disputed and cannot be refunded.",
      };
      return this.remember("refund", input, fingerprint, outcome);
    }
    record.amountRefunded += input.amount;
    const outcome: RefundOutcome = {
      kind: "refunded",
      refundId: `re_test_${hashOf(`refund:${input.intentId}:${input.idempotencyKey}`, 24)}`,
      amount: input.amount,
      status: "succeeded",
    };
    return this.remember("refund", input, fingerprint, outcome, true);
  }

  async retrieve(intentId: string): Promise<IntentState | null> {
    checkIntentId(intentId);
    await this.delay();
    const record = this.lookup(intentId);
    return this.record("retrieve", { intentId }, record ? this.stateOf(intentId, record) : null);
  }

  /** Only the intents this process has issued or looked at: a restarted process knows none. */
  async findIntentsByOrder(input: FindIntentsInput): Promise<IntentState[]> {
    await this.delay();
    const found = [...this.intents]
      .filter(([, r]) => r.facts.orderId === input.orderId && r.facts.storeId === input.storeId)
      .map(([id, r]) => this.stateOf(id, r))
      .sort((a, b) => a.created.getTime() - b.created.getTime());
    return this.record("findIntentsByOrder", input, found);
  }

  parseWebhook(rawBody: Buffer | string, signatureHeader: string | undefined): WebhookEvent {
    return verifyWebhook(rawBody, signatureHeader, this.webhookSecret);
  }

  /**
   * A Stripe-shaped event about the intent as it stands now, signed with this gateway's secret, for
   * exercising the webhook endpoint offline. `timestamp` (unix seconds) lets tests make a stale one.
   */
  signEvent(
    type: string,
    intentId: string,
    options: { timestamp?: number; eventId?: string } = {},
  ): SignedWebhook {
    const record = this.lookup(intentId);
    if (!record) throw new PaymentGatewayError("invalid_input", `No test intent ${intentId}`);
    const state = this.stateOf(intentId, record);
    const event = {
      id: options.eventId ?? `evt_test_${randomUUID().replaceAll("-", "")}`,
      object: "event",
      type,
      created: Math.floor(this.now().getTime() / 1000),
      livemode: false,
      data: {
        object: {
          id: intentId,
          object: "payment_intent",
          amount: state.amount,
          amount_capturable: state.amountCapturable,
          amount_received: state.amountReceived,
          currency: state.currency.toLowerCase(),
          status: stripeStatus[state.status],
          capture_method: "manual",
          client_secret: state.clientSecret,
          created: Math.floor(state.created.getTime() / 1000),
          latest_charge: null,
          last_payment_error: state.lastPaymentError
            ? {
                type: "card_error",
                code: state.lastPaymentError.code,
                decline_code: state.lastPaymentError.declineCode,
                message: state.lastPaymentError.message,
              }
            : null,
          livemode: false,
          metadata: {
            order_id: record.facts.orderId,
            store: record.facts.storeId,
            ...(record.orderNumber ? { order_number: record.orderNumber } : {}),
          },
        },
      },
    };
    return signWebhookPayload(JSON.stringify(event), this.webhookSecret, options.timestamp);
  }

  /**
   * The shopper finishes (or fails) 3-D Secure for an intent waiting on it; returns the signed webhook
   * Stripe would send: `payment_intent.amount_capturable_updated` or `payment_intent.payment_failed`.
   */
  completeAction(intentId: string, result: "authorized" | "declined" = "authorized"): SignedWebhook {
    const record = this.lookup(intentId);
    if (record?.status !== "requires_action") {
      throw new PaymentGatewayError(
        "invalid_input",
        `Test intent ${intentId} is not waiting for authentication`,
      );
    }
    if (result === "authorized") {
      record.status = "authorized";
      record.amountCapturable = record.facts.amount;
      return this.signEvent("payment_intent.amount_capturable_updated", intentId);
    }
    record.status = "requires_payment_method";
    record.lastPaymentError = {
      code: "payment_intent_authentication_failure",
      declineCode: null,
      message: "The customer did not complete authentication.",
    };
    return this.signEvent("payment_intent.payment_failed", intentId);
  }

  /** The intent as its token left it, for an id this process has not seen (or a fresh one). */
  private baseline(facts: TestIntentFacts, token: TestToken): IntentRecord {
    const record: IntentRecord = {
      facts,
      status: "authorized",
      amountCapturable: 0,
      amountReceived: 0,
      amountRefunded: 0,
      lastPaymentError: null,
      orderNumber: null,
      created: this.now(),
    };
    const behaviour = token.authorize;
    if (behaviour.kind === "declined") {
      record.status = "requires_payment_method";
      record.lastPaymentError = {
        code: "card_declined",
        declineCode: behaviour.declineCode,
        message: behaviour.message,
      };
    } else if (behaviour.kind === "requires_action") {
      record.status = "requires_action";
    } else {
      record.amountCapturable = facts.amount;
    }
    return record;
  }

  private lookup(intentId: string): IntentRecord | null {
    const known = this.intents.get(intentId);
    if (known) return known;
    const facts = decodeTestIntentId(intentId);
    const token = facts ? testToken(facts.token) : null;
    if (!facts || !token || token.authorize.kind === "timeout") return null;
    const record = this.baseline(facts, token);
    this.intents.set(intentId, record);
    return record;
  }

  private authorizeOutcome(intentId: string, record: IntentRecord): AuthorizeOutcome {
    switch (record.status) {
      case "requires_action":
        return { kind: "requires_action", intentId, clientSecret: testClientSecret(intentId) };
      case "requires_payment_method":
        return {
          kind: "declined",
          intentId,
          declineCode: record.lastPaymentError?.declineCode ?? "card_declined",
          message: record.lastPaymentError?.message ?? "Your card was declined.",
        };
      default:
        // Stripe replays the first answer for a key whatever happened since: authorised.
        return {
          kind: "authorized",
          intentId,
          amountCapturable: record.facts.amount,
          cardFingerprint: testCardFingerprint(record.facts.token),
        };
    }
  }

  private stateOf(intentId: string, record: IntentRecord): IntentState {
    return {
      intentId,
      status: record.status,
      amount: record.facts.amount,
      currency: record.facts.currency,
      amountCapturable: record.amountCapturable,
      amountReceived: record.amountReceived,
      amountRefunded: record.amountRefunded,
      orderId: record.facts.orderId,
      storeId: record.facts.storeId,
      orderNumber: record.orderNumber,
      clientSecret: testClientSecret(intentId),
      lastPaymentError: record.lastPaymentError,
      created: record.created,
    };
  }

  private replay<T>(key: string, fingerprint: string): T | null {
    const stored = this.idempotency.get(key);
    if (!stored) return null;
    if (stored.fingerprint !== fingerprint) {
      throw new PaymentGatewayError(
        "idempotency_conflict",
        "Keys for idempotent requests can only be used with the same parameters they were first used with.",
      );
    }
    return stored.outcome as T;
  }

  /** Stores the answer under the key (Stripe keeps every answer once it started executing) and logs it. */
  private remember<T>(
    method: GatewayMethod,
    input: { idempotencyKey: string },
    fingerprint: string,
    outcome: T,
    effect = false,
  ): T {
    this.idempotency.set(input.idempotencyKey, { fingerprint, outcome });
    return this.record(method, input, outcome, { effect });
  }

  private record<T>(
    method: GatewayMethod,
    input: unknown,
    outcome: T,
    flags: { replayed?: boolean; effect?: boolean } = {},
  ): T {
    this.callCount += 1;
    if (flags.effect) this.effectCounts.set(method, this.effects(method) + 1);
    if (this.memory.calls <= 0) return outcome;
    // Dropped a tenth at a time, so a full log costs one splice per hundred calls, not one per call.
    if (this.calls.length >= this.memory.calls) this.calls.splice(0, Math.ceil(this.memory.calls / 10));
    this.calls.push({
      seq: this.callCount,
      method,
      input: structuredClone(input),
      outcome: structuredClone(outcome),
      replayed: flags.replayed ?? false,
      effect: flags.effect ?? false,
      at: this.now(),
    });
    return outcome;
  }

  private async delay(): Promise<void> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
  }
}

function missing(intentId: string) {
  return {
    kind: "failed" as const,
    code: "resource_missing",
    message: `No such payment_intent: '${intentId}'`,
  };
}
