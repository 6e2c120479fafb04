/**
 * A local HTTP server that speaks the part of Stripe's v1 API our StripeGateway uses, so tests drive
 * the REAL `stripe` SDK (form-encoded bodies, its retries, its error classes) with no network:
 *
 *   POST /v1/payment_intents               create (+confirm, manual or automatic capture)
 *   GET  /v1/payment_intents/:id           retrieve (expand[]=latest_charge)
 *   GET  /v1/payment_intents/search        metadata['k']:'v' [AND ...] only
 *   POST /v1/payment_intents/:id/capture   amount_to_capture
 *   POST /v1/payment_intents/:id/cancel    cancellation_reason
 *   POST /v1/refunds                       payment_intent, amount, metadata
 *
 * Idempotency as Stripe documents it: once an endpoint starts executing, its answer (success or error)
 * is stored under the Idempotency-Key and replayed for the same key and parameters (header
 * `Idempotent-Replayed: true`); the same key with other parameters is a 400 `idempotency_error`;
 * validation failures are not stored. Cards answer like the TestGateway's Stripe tokens
 * (src/payments/test-tokens.ts); any other payment method is Stripe's 400 "No such PaymentMethod".
 *
 * Faults are injected per matching request: an HTTP status answered before anything executes (a 5xx
 * from Stripe's edge, a 429, ...), a delayed reply (executed and stored at once, the reply held back:
 * past the client's timeout this is "request reached Stripe, reply lost"), or a dropped connection.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { testToken } from "../../src/payments/test-tokens.js";
import { type SignedWebhook, signWebhookPayload } from "../../src/payments/webhook.js";

export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type Form = { [key: string]: FormValue };

export interface RecordedRequest {
  seq: number;
  method: string;
  path: string;
  query: Form;
  body: Form;
  /** Lower-cased names. */
  headers: Record<string, string>;
  idempotencyKey: string | null;
  /** What the stand-in did with it. */
  handling: "executed" | "replayed" | "rejected" | "fault";
  status: number | null;
  at: Date;
}

export type StandInFault =
  /** Answered before anything executes (nothing stored): a 500 from Stripe's edge, a 429, a 402... */
  | { kind: "status"; status: number; error?: Record<string, unknown>; headers?: Record<string, string> }
  /** Executed and stored at once; the reply is held back `ms` (beyond the client timeout: reply lost). */
  | { kind: "delay"; ms: number }
  /** The connection is destroyed with no reply; with `afterExecute` the request took effect first. */
  | { kind: "drop"; afterExecute?: boolean };

export interface FaultMatch {
  method?: "GET" | "POST";
  /** Exact path, or a pattern, e.g. /\/capture$/. */
  path?: string | RegExp;
}

interface Reply {
  status: number;
  body: unknown;
}

interface Charge {
  id: string;
  object: "charge";
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  captured: boolean;
  refunded: boolean;
  currency: string;
  status: "succeeded" | "failed";
  payment_intent: string;
  metadata: Record<string, string>;
  payment_method_details: { type: "card"; card: { brand: string; last4: string; fingerprint: string } };
  created: number;
}

interface Intent {
  id: string;
  object: "payment_intent";
  amount: number;
  amount_capturable: number;
  amount_received: number;
  capture_method: string;
  client_secret: string;
  confirmation_method: "automatic";
  created: number;
  currency: string;
  description: string | null;
  last_payment_error: Record<string, unknown> | null;
  latest_charge: string | null;
  livemode: false;
  metadata: Record<string, string>;
  next_action: Record<string, unknown> | null;
  payment_method: string | null;
  receipt_email: string | null;
  status: string;
  cancellation_reason: string | null;
  canceled_at: number | null;
}

class StripeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: Record<string, unknown>,
    /** Stripe stores answers only once an endpoint started executing; validation failures are not. */
    readonly stored: boolean,
  ) {
    super(String(error.message));
  }
}

const invalid = (message: string, extra: Record<string, unknown> = {}, stored = false) =>
  new StripeHttpError(400, { type: "invalid_request_error", message, ...extra }, stored);

function parseForm(text: string): Form {
  const root: Form = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const parts = rawKey.split(/\[|\]\[|\]/).filter((p) => p.length > 0);
    let node: Form = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] as string;
      const next = node[part];
      if (typeof next !== "object" || Array.isArray(next)) node[part] = {};
      node = node[part] as Form;
    }
    node[parts[parts.length - 1] as string] = value;
  }
  return arraysFromIndexes(root) as Form;
}

/** `expand[0]=a&expand[1]=b` arrives as {0: a, 1: b}: Stripe treats it as a list. */
function arraysFromIndexes(value: FormValue): FormValue {
  if (typeof value === "string" || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const converted = Object.fromEntries(keys.map((k) => [k, arraysFromIndexes(value[k] as FormValue)]));
  if (keys.length > 0 && keys.every((k, i) => k === String(i)))
    return keys.map((k) => converted[k] as FormValue);
  return converted;
}

function str(form: Form, key: string): string | undefined {
  const value = form[key];
  return typeof value === "string" ? value : undefined;
}

function int(form: Form, key: string, required: boolean): number | undefined {
  const raw = str(form, key);
  if (raw === undefined) {
    if (required) throw invalid(`Missing required param: ${key}.`, { code: "parameter_missing", param: key });
    return undefined;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw invalid(`Invalid positive integer`, { code: "parameter_invalid_integer", param: key });
  }
  return Number(raw);
}

function stringMap(value: FormValue | undefined): Record<string, string> {
  if (value === undefined || typeof value === "string" || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
}

function expands(form: Form): string[] {
  const value = form.expand;
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

export class StripeStandIn {
  /** Every request in arrival order. */
  readonly requests: RecordedRequest[] = [];
  readonly intents = new Map<string, Intent>();
  readonly charges = new Map<string, Charge>();
  readonly refunds = new Map<string, Record<string, unknown>>();
  private readonly idempotency = new Map<string, { fingerprint: string; reply: Reply }>();
  private readonly faults: { match: FaultMatch; fault: StandInFault; remaining: number }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private seq = 0;
  private readonly server = createServer((req, res) => {
    this.handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { type: "api_error", message: String(error) } }));
    });
  });

  private constructor(readonly secretKey: string) {}

  static async start(options: { secretKey?: string } = {}): Promise<StripeStandIn> {
    const standIn = new StripeStandIn(
      options.secretKey ?? `sk_test_standin_${randomBytes(8).toString("hex")}`,
    );
    await new Promise<void>((resolve, reject) => {
      standIn.server.once("error", reject);
      standIn.server.listen(0, "127.0.0.1", () => resolve());
    });
    return standIn;
  }

  /** The API base to give the gateway (STRIPE_API_BASE). */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The next `times` requests matching `match` meet `fault`. */
  inject(match: FaultMatch, fault: StandInFault, times = 1): void {
    this.faults.push({ match, fault, remaining: times });
  }

  /** Requests that reached a given endpoint, e.g. posts("/v1/payment_intents"). */
  posts(path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === "POST" && matches(path, r.path));
  }

  /**
   * A signed Stripe event about one of the stand-in's intents (its current state), as Stripe would
   * deliver it to our webhook endpoint. `timestamp` in unix seconds, to make stale ones.
   */
  webhook(
    type: string,
    intentId: string,
    secret: string,
    options: { timestamp?: number } = {},
  ): SignedWebhook {
    const intent = this.intents.get(intentId);
    if (!intent) throw new Error(`no intent ${intentId}`);
    const event = {
      id: `evt_${randomBytes(12).toString("hex")}`,
      object: "event",
      api_version: "2026-10-28.endive",
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      type,
      data: { object: structuredClone(intent) },
    };
    return signWebhookPayload(JSON.stringify(event), secret, options.timestamp);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private takeFault(method: string, path: string): StandInFault | null {
    const index = this.faults.findIndex(
      (f) => (!f.match.method || f.match.method === method) && (!f.match.path || matches(f.match.path, path)),
    );
    if (index < 0) return null;
    const entry = this.faults[index]!;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.faults.splice(index, 1);
    return entry.fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on("error", () => {});
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://stand-in");
    const method = req.method ?? "GET";
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
    );
    const record: RecordedRequest = {
      seq: ++this.seq,
      method,
      path: url.pathname,
      query: parseForm(url.search.slice(1)),
      body: parseForm(Buffer.concat(chunks).toString("utf8")),
      headers,
      idempotencyKey: headers["idempotency-key"] || null,
      handling: "executed",
      status: null,
      at: new Date(),
    };
    this.requests.push(record);
    const send = (reply: Reply, extraHeaders: Record<string, string> = {}) => {
      record.status = reply.status;
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(reply.status, {
        "content-type": "application/json",
        "request-id": `req_${randomBytes(8).toString("hex")}`,
        ...extraHeaders,
      });
      res.end(JSON.stringify(reply.body));
    };

    const fault = this.takeFault(method, url.pathname);
    if (fault?.kind === "status") {
      record.handling = "fault";
      const type =
        fault.status === 429 ? "rate_limit_error" : fault.status === 402 ? "card_error" : "api_error";
      send(
        {
          status: fault.status,
          body: { error: { type, message: `Injected ${fault.status}`, ...fault.error } },
        },
        fault.headers,
      );
      return;
    }
    if (fault?.kind === "drop" && !fault.afterExecute) {
      record.handling = "fault";
      req.socket.destroy();
      return;
    }

    if (headers.authorization !== `Bearer ${this.secretKey}`) {
      record.handling = "rejected";
      send({
        status: 401,
        body: { error: { type: "invalid_request_error", message: "Invalid API Key provided" } },
      });
      return;
    }

    const { reply, handling } = this.executeIdempotently(record);
    record.handling = handling;
    const replyHeaders: Record<string, string> =
      handling === "replayed" ? { "idempotent-replayed": "true" } : {};

    if (fault?.kind === "drop") {
      record.status = reply.status;
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "delay") {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        send(reply, replyHeaders);
      }, fault.ms);
      this.timers.add(timer);
      return;
    }
    send(reply, replyHeaders);
  }

  private executeIdempotently(record: RecordedRequest): {
    reply: Reply;
    handling: RecordedRequest["handling"];
  } {
    const key = record.method === "POST" ? record.idempotencyKey : null;
    const fingerprint = JSON.stringify([record.method, record.path, record.body]);
    if (key) {
      const stored = this.idempotency.get(key);
      if (stored && stored.fingerprint !== fingerprint) {
        return {
          handling: "rejected",
          reply: {
            status: 400,
            body: {
              error: {
                type: "idempotency_error",
                message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
              },
            },
          },
        };
      }
      if (stored) return { reply: stored.reply, handling: "replayed" };
    }
    let reply: Reply;
    let store = true;
    try {
      reply = { status: 200, body: this.route(record) };
    } catch (error) {
      if (!(error instanceof StripeHttpError)) throw error;
      reply = { status: error.status, body: { error: error.error } };
      store = error.stored;
    }
    if (key && store) this.idempotency.set(key, { fingerprint, reply });
    return { reply, handling: store ? "executed" : "rejected" };
  }

  private route(r: RecordedRequest): unknown {
    const p = r.path;
    if (r.method === "POST" && p === "/v1/payment_intents") return this.createIntent(r.body);
    if (r.method === "GET" && p === "/v1/payment_intents/search") return this.search(r.query);
    let m = /^\/v1\/payment_intents\/([^/]+)$/.exec(p);
    if (m && r.method === "GET") return this.render(this.intent(m[1]!), expands(r.query));
    m = /^\/v1\/payment_intents\/([^/]+)\/capture$/.exec(p);
    if (m && r.method === "POST") return this.capture(this.intent(m[1]!), r.body);
    m = /^\/v1\/payment_intents\/([^/]+)\/cancel$/.exec(p);
    if (m && r.method === "POST") return this.cancel(this.intent(m[1]!), r.body);
    if (r.method === "POST" && p === "/v1/refunds") return this.refund(r.body);
    throw new StripeHttpError(
      404,
      { type: "invalid_request_error", message: `Unrecognized request URL (${r.method}: ${p})` },
      false,
    );
  }

  private intent(id: string): Intent {
    const intent = this.intents.get(id);
    if (!intent) {
      throw new StripeHttpError(
        404,
        {
          type: "invalid_request_error",
          code: "resource_missing",
          param: "intent",
          message: `No such payment_intent: '${id}'`,
        },
        false,
      );
    }
    return intent;
  }

  private render(intent: Intent, expand: string[]): unknown {
    const charge =
      expand.includes("latest_charge") && intent.latest_charge
        ? this.charges.get(intent.latest_charge)
        : null;
    return structuredClone(charge ? { ...intent, latest_charge: charge } : intent);
  }

  private createIntent(body: Form): unknown {
    const amount = int(body, "amount", true)!;
    const currency = str(body, "currency");
    if (!currency || !/^[a-z]{3}$/.test(currency)) {
      throw invalid("Invalid currency", { code: "parameter_invalid_empty", param: "currency" });
    }
    const captureMethod = str(body, "capture_method") ?? "automatic";
    const paymentMethod = str(body, "payment_method") ?? null;
    const token = paymentMethod ? testToken(paymentMethod) : null;
    if (paymentMethod && !token?.stripe) {
      throw invalid(`No such PaymentMethod: '${paymentMethod}'`, {
        code: "resource_missing",
        param: "payment_method",
      });
    }
    const id = `pi_${randomBytes(12).toString("hex")}`;
    const intent: Intent = {
      id,
      object: "payment_intent",
      amount,
      amount_capturable: 0,
      amount_received: 0,
      capture_method: captureMethod,
      client_secret: `${id}_secret_${randomBytes(8).toString("hex")}`,
      confirmation_method: "automatic",
      created: Math.floor(Date.now() / 1000),
      currency,
      description: str(body, "description") ?? null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata: stringMap(body.metadata),
      next_action: null,
      payment_method: paymentMethod,
      receipt_email: str(body, "receipt_email") ?? null,
      status: paymentMethod ? "requires_confirmation" : "requires_payment_method",
      cancellation_reason: null,
      canceled_at: null,
    };
    this.intents.set(id, intent);
    if (str(body, "confirm") !== "true" || !token || !paymentMethod)
      return this.render(intent, expands(body));

    const behaviour = token.authorize;
    if (behaviour.kind === "requires_action") {
      intent.status = "requires_action";
      intent.next_action = { type: "use_stripe_sdk", use_stripe_sdk: { type: "three_d_secure_redirect" } };
      return this.render(intent, expands(body));
    }
    const charge = this.newCharge(
      intent,
      paymentMethod,
      behaviour.kind === "declined" ? "failed" : "succeeded",
    );
    intent.latest_charge = charge.id;
    if (behaviour.kind === "declined") {
      intent.status = "requires_payment_method";
      const error = {
        type: "card_error",
        code: "card_declined",
        decline_code: behaviour.declineCode,
        message: behaviour.message,
        charge: charge.id,
      };
      intent.last_payment_error = error;
      throw new StripeHttpError(402, { ...error, payment_intent: this.render(intent, []) }, true);
    }
    if (captureMethod === "manual") {
      intent.status = "requires_capture";
      intent.amount_capturable = amount;
    } else {
      intent.status = "succeeded";
      intent.amount_received = amount;
      charge.captured = true;
      charge.amount_captured = amount;
    }
    return this.render(intent, expands(body));
  }

  private newCharge(intent: Intent, paymentMethod: string, status: Charge["status"]): Charge {
    const charge: Charge = {
      id: `ch_${randomBytes(12).toString("hex")}`,
      object: "charge",
      amount: intent.amount,
      amount_captured: 0,
      amount_refunded: 0,
      captured: false,
      refunded: false,
      currency: intent.currency,
      status,
      payment_intent: intent.id,
      metadata: { ...intent.metadata },
      payment_method_details: {
        type: "card",
        card: {
          brand: paymentMethod.includes("mastercard") ? "mastercard" : "visa",
          last4: "4242",
          fingerprint: createHash("sha256").update(paymentMethod).digest("hex").slice(0, 16),
        },
      },
      created: intent.created,
    };
    this.charges.set(charge.id, charge);
    return charge;
  }

  private unexpectedState(intent: Intent, action: string, allowed: string): StripeHttpError {
    return invalid(
      `This PaymentIntent could not be ${action} because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be ${action}: ${allowed}.`,
      { code: "payment_intent_unexpected_state", payment_intent: this.render(intent, []) },
      true,
    );
  }

  private capture(intent: Intent, body: Form): unknown {
    if (intent.status !== "requires_capture")
      throw this.unexpectedState(intent, "captured", "requires_capture");
    const amount = int(body, "amount_to_capture", false) ?? intent.amount_capturable;
    if (amount > intent.amount_capturable) {
      throw invalid(
        `The amount to capture exceeds the capturable amount.`,
        { code: "amount_too_large", param: "amount_to_capture" },
        true,
      );
    }
    intent.status = "succeeded";
    intent.amount_received = amount;
    intent.amount_capturable = 0;
    const charge = this.charges.get(intent.latest_charge ?? "");
    if (charge) {
      charge.captured = true;
      charge.amount_captured = amount;
    }
    return this.render(intent, expands(body));
  }

  private cancel(intent: Intent, body: Form): unknown {
    if (intent.status === "succeeded" || intent.status === "canceled") {
      throw this.unexpectedState(
        intent,
        "canceled",
        "requires_payment_method, requires_capture, requires_confirmation, requires_action, processing",
      );
    }
    intent.status = "canceled";
    intent.amount_capturable = 0;
    intent.cancellation_reason = str(body, "cancellation_reason") ?? null;
    intent.canceled_at = Math.floor(Date.now() / 1000);
    return this.render(intent, expands(body));
  }

  private refund(body: Form): unknown {
    const intentId = str(body, "payment_intent");
    if (!intentId)
      throw invalid("Missing required param: payment_intent.", {
        code: "parameter_missing",
        param: "payment_intent",
      });
    const intent = this.intent(intentId);
    const charge = this.charges.get(intent.latest_charge ?? "");
    if (intent.status !== "succeeded" || !charge?.captured) {
      throw invalid(
        `This PaymentIntent does not have a successful charge to refund.`,
        { code: "charge_not_refundable" },
        true,
      );
    }
    const refundable = charge.amount_captured - charge.amount_refunded;
    if (refundable === 0) {
      throw invalid(
        `Charge ${charge.id} has already been refunded.`,
        { code: "charge_already_refunded" },
        true,
      );
    }
    const amount = int(body, "amount", false) ?? refundable;
    if (amount > refundable) {
      throw invalid(
        `Refund amount (${amount}) is greater than unrefunded amount on charge (${refundable})`,
        { code: "amount_too_large", param: "amount" },
        true,
      );
    }
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount_captured;
    const refund = {
      id: `re_${randomBytes(12).toString("hex")}`,
      object: "refund",
      amount,
      charge: charge.id,
      currency: charge.currency,
      payment_intent: intent.id,
      metadata: stringMap(body.metadata),
      reason: str(body, "reason") ?? null,
      status: "succeeded",
      created: Math.floor(Date.now() / 1000),
    };
    this.refunds.set(refund.id, refund);
    return refund;
  }

  private search(query: Form): unknown {
    const text = str(query, "query") ?? "";
    const clauses = text.split(" AND ").map((c) => /^metadata\['([^']+)'\]:'([^']*)'$/.exec(c.trim()));
    if (clauses.some((c) => c === null))
      throw invalid(`Unsupported search query: ${text}`, { param: "query" });
    const data = [...this.intents.values()]
      .filter((i) => clauses.every((c) => i.metadata[c![1]!] === c![2]))
      .map((i) => this.render(i, []));
    return {
      object: "search_result",
      data,
      has_more: false,
      next_page: null,
      url: "/v1/payment_intents/search",
    };
  }
}

function matches(pattern: string | RegExp, path: string): boolean {
  return typeof pattern === "string" ? pattern === path : pattern.test(path);
}
