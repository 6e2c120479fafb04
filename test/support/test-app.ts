/**
 * A real Cartograph for one test file: its own database (cloned from the migrated template), Redis
 * under its own key namespace when REDIS_URL is set (else the in-memory twins), and the HTTP/WS server
 * listening on a random port. `gql` sends real HTTP requests.
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, inject } from "vitest";
import { type Config, loadConfig } from "../../src/config.js";
import { createMemoryInfra } from "../../src/infra/memory.js";
import { createRedisInfra } from "../../src/infra/redis.js";
import type { Infra } from "../../src/infra/types.js";
import { createLogger } from "../../src/logger.js";
import type { PaymentGateway } from "../../src/payments/index.js";
import { type Runtime, startRuntime } from "../../src/runtime.js";
import type { NotificationTransport } from "../../src/services/notifications/notification-transport.js";
import { recordErrorCodes } from "./error-recorder.js";
import { withDatabase } from "./global-setup.js";

export const TEST_PASSWORD_COST = { logN: 12, r: 8, p: 1 };

export interface GqlOptions {
  token?: string;
  store?: string;
  headers?: Record<string, string>;
}

export interface GqlResponse<T = Record<string, unknown>> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  headers: Headers;
}

export interface TestApp {
  runtime: Runtime;
  url: string;
  wsUrl: string;
  databaseUrl: string;
  /** Sends a GraphQL request over HTTP. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    opts?: GqlOptions,
  ): Promise<GqlResponse<T>>;
  /** Like gql, but fails the test on GraphQL errors and returns `data`. */
  ok<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    opts?: GqlOptions,
  ): Promise<T>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Use this (already migrated) database instead of a clone of the template, e.g. a replication pair's primary. */
  databaseUrl?: string;
  infra?: Infra;
  now?: () => Date;
  /** The payment gateway (default: a TestGateway, as in embedded mode). */
  gateway?: PaymentGateway;
  /** Start on a new database with nothing in it (no migrations): what an operator's first start meets. */
  emptyDatabase?: boolean;
  /** Where the runtime's notification sender delivers (default: the logging transport). */
  notificationTransport?: NotificationTransport;
}

/** A new database cloned from the migrated template, or an empty one (dropped with the run's other databases). */
export async function createDatabaseFromTemplate(empty = false): Promise<string> {
  const base = inject("pgBaseUrl");
  const name = `cartograph_t_${inject("runId")}_${randomBytes(4).toString("hex")}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.unsafe(
          empty
            ? `create database "${name}"`
            : `create database "${name}" template "${inject("pgTemplate")}"`,
        );
        break;
      } catch (e) {
        // Two files cloning the template at the same instant: the copy briefly holds it. Retry.
        if (attempt > 20 || !String(e).includes("being accessed by other users")) throw e;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
  return withDatabase(base, name);
}

export async function createTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const databaseUrl = opts.databaseUrl ?? (await createDatabaseFromTemplate(opts.emptyDatabase));
  const redisUrl = inject("redisUrl");
  const config: Config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    JWT_SECRET: "test-secret-that-is-long-enough-for-hs256!",
    RATE_LIMIT_PER_MINUTE: "0",
    CART_JOB_INTERVAL_SECONDS: "0",
    CHECKOUT_JOB_INTERVAL_SECONDS: "0",
    STOCK_SETTLEMENT_INTERVAL_MS: "0",
    // Limits that the tests of those limits switch on: most files reuse one guest for many carts.
    GUEST_MAX_OPEN_CARTS: "0",
    CARTS_PER_IP_PER_HOUR: "0",
    ...opts.env,
  });
  const logger = createLogger(config.LOG_LEVEL);
  const infra =
    opts.infra ??
    (redisUrl
      ? createRedisInfra(redisUrl, { logger, namespace: `test:${randomBytes(4).toString("hex")}:` })
      : createMemoryInfra());
  const runtime = await startRuntime(config, {
    logger,
    databaseUrl,
    infra,
    skipMigrations: true,
    passwordCost: TEST_PASSWORD_COST,
    now: opts.now,
    gateway: opts.gateway,
    notificationTransport: opts.notificationTransport,
  });
  const port = await runtime.app.listen(0, "127.0.0.1");
  const url = `http://127.0.0.1:${port}/graphql`;

  const gql: TestApp["gql"] = async (query, variables, o = {}) => {
    const headers: Record<string, string> = { "content-type": "application/json", ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.store) headers["x-store"] = o.store;
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
    const text = await res.text();
    let body: { data?: never; errors?: never } = {};
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`non-JSON response ${res.status}: ${text.slice(0, 200)}`);
    }
    recordErrorCodes(query, body);
    return { status: res.status, data: body.data, errors: body.errors, headers: res.headers };
  };
  return {
    runtime,
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    databaseUrl,
    gql,
    async ok(query, variables, o) {
      const res = await gql(query, variables, o);
      if (res.errors?.length || !res.data) {
        throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
      }
      return res.data as never;
    },
    close: () => runtime.stop(),
  };
}

/** Registers beforeAll/afterAll for a file-wide app; read `.app` inside tests. */
export function useTestApp(opts: TestAppOptions = {}): { readonly app: TestApp } {
  const holder: { app?: TestApp } = {};
  beforeAll(async () => {
    holder.app = await createTestApp(opts);
  });
  afterAll(async () => {
    await holder.app?.close();
  });
  return {
    get app() {
      if (!holder.app) throw new Error("test app not started");
      return holder.app;
    },
  };
}
