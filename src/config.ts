/**
 * Every setting Cartograph reads, parsed and validated once into one typed object.
 * A bad value stops start-up with a message that names the variable.
 */
import os from "node:os";
import { z } from "zod";
import { REDIS_DEFAULTS } from "./infra/redis-defaults.js";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL with protocol ${protocols.join(" or ")}`,
  );

/** "host:port,host:port" (IPv6 hosts in brackets) -> addresses; a bad entry is an issue naming it. */
function parseHostPorts(value: string, ctx: z.RefinementCtx): { host: string; port: number }[] {
  const nodes: { host: string; port: number }[] = [];
  for (const entry of value.split(",").map((e) => e.trim())) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) {
      ctx.addIssue({
        code: "custom",
        message: `must be a comma-separated list of host:port (bad: "${entry}")`,
      });
      return z.NEVER;
    }
    nodes.push({ host: m[1]!.replace(/^\[(.*)\]$/, "$1"), port });
  }
  return nodes;
}

/** Every setting (exported so a test can hold the README's configuration table to it). */
export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default("0.0.0.0"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Unset: human lines when stdout is a terminal, JSON lines otherwise (resolved in logger.ts). */
  LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
  DATABASE_URL: url(["postgres:", "postgresql:"]).optional(),
  /** Pool of one process; unset: DEFAULT_POOL_SIZE, lowered to fit DATABASE_MAX_CONNECTIONS (see poolSizeFor). */
  DATABASE_POOL_SIZE: int(1, 500).optional(),
  /** Connections all processes of this instance together may open to DATABASE_URL's server. */
  DATABASE_MAX_CONNECTIONS: int(2, 100_000).default(100),
  /** Server processes (node:cluster workers, src/cluster.ts): a number, or `auto` = one per CPU. */
  WEB_CONCURRENCY: z.union([z.literal("auto"), int(1, 256)]).default(1),
  /** A streaming replica of DATABASE_URL; shoppers' catalog queries read from it (server/read-routing.ts). */
  DATABASE_READ_URL: url(["postgres:", "postgresql:"]).optional(),
  /** How stale the replica's data may be before reads go back to the primary. */
  DATABASE_READ_MAX_LAG_MS: int(1, 3_600_000).default(1000),
  /** How often the replica's lag is measured; must be below DATABASE_READ_MAX_LAG_MS. */
  DATABASE_READ_PROBE_MS: int(10, 600_000).default(250),
  DATABASE_CREATE: bool.optional(),
  REDIS_URL: url(["redis:", "rediss:"]).optional(),
  /** A Redis Cluster instead of REDIS_URL: seed nodes as host:port,host:port,... */
  REDIS_CLUSTER_NODES: z.string().transform(parseHostPorts).optional(),
  /** Per-command timeout on Redis: the most one call can lose to a hung Redis before the circuit opens. */
  REDIS_COMMAND_TIMEOUT_MS: int(10, 60_000).default(REDIS_DEFAULTS.commandTimeoutMs),
  /** How long Redis is skipped after a timeout or connection error (circuit open); 0 disables that. */
  REDIS_BREAKER_OPEN_MS: int(0, 600_000).default(REDIS_DEFAULTS.breakerOpenMs),
  DEFAULT_STORE: z
    .string()
    .regex(/^[a-z0-9-]+$/, "must be a store handle")
    .optional(),
  DATA_DIR: z.string().min(1).default("./.data"),
  EMBEDDED_PG_PORT: int(1, 65535).default(54329),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_TTL_SECONDS: int(60, 60 * 60 * 24 * 90).default(60 * 60 * 24 * 7),
  STRIPE_SECRET_KEY: z.string().startsWith("sk_").optional(),
  STRIPE_WEBHOOK_SECRET: z.string().startsWith("whsec_").optional(),
  STRIPE_API_BASE: url(["http:", "https:"]).optional(),
  /** Per-request bound on a Stripe call; the SDK's own default (80 s) would hold a checkout far too long. */
  STRIPE_TIMEOUT_MS: int(100, 120_000).default(10_000),
  /** Retries the SDK makes itself on connection errors, 409 and 5xx, reusing the request's idempotency key. */
  STRIPE_MAX_NETWORK_RETRIES: int(0, 10).default(2),
  SEED_DEMO: bool.optional(),
  DEMO_STAFF_PASSWORD: z.string().min(8, "must be at least 8 characters").optional(),
  // Request limits: each applies to HTTP and WebSocket alike; 0 turns a limit off (benchmarks, tests).
  MAX_QUERY_DEPTH: int(0, 100).default(12),
  MAX_QUERY_COMPLEXITY: int(0, 10_000_000).default(10_000),
  /** Budget of introspection (`__schema`, `__type`): the standard docs query costs about half of it. */
  MAX_INTROSPECTION_COMPLEXITY: int(0, 10_000_000).default(100_000),
  MAX_ALIASES: int(0, 100_000).default(50),
  MAX_ROOT_MUTATION_FIELDS: int(0, 1000).default(5),
  MAX_BODY_BYTES: int(1024, 10 * 1024 * 1024).default(256 * 1024),
  /** Operations per minute per caller (verified identity, else client IP), over HTTP and WebSocket. */
  RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).default(600),
  /** Operations a WebSocket may have running at once (mostly subscriptions). */
  WS_MAX_OPERATIONS_PER_CONNECTION: int(0, 10_000).default(50),
  /** Introspection and "Did you mean" suggestions: on except with NODE_ENV=production unless set. */
  GRAPHQL_INTROSPECTION: bool.optional(),
  /** How many reverse proxies in front of us append to X-Forwarded-For (0: use the socket address). */
  TRUST_PROXY_HOPS: int(0, 10).default(0),
  /** Comma-separated browser origins allowed to call the API (CORS); `*` for any. */
  CORS_ORIGINS: z.string().optional(),
  /** When set, /metrics needs `Authorization: Bearer <token>`. */
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  /** When set, /metrics is served on this port only (not on PORT). */
  METRICS_PORT: int(0, 65535).optional(),
  /** Open carts one guest session may hold; more is refused (0: no limit). */
  GUEST_MAX_OPEN_CARTS: int(0, 10_000).default(10),
  /** Carts one client IP may create per hour (0: no limit). */
  CARTS_PER_IP_PER_HOUR: int(0, 1_000_000).default(300),
  /** EXPIRED carts are deleted this long after they expired. */
  EXPIRED_CART_RETENTION_DAYS: int(1, 3650).default(7),
  /** Sign-in attempts per (account, client) and per client in SIGN_IN_WINDOW_SECONDS. */
  SIGN_IN_ATTEMPTS_PER_ACCOUNT_CLIENT: int(0, 10_000).default(10),
  SIGN_IN_ATTEMPTS_PER_CLIENT: int(0, 100_000).default(50),
  /** Failed attempts on one account (from anywhere) after which each further attempt is slowed. */
  SIGN_IN_SLOWDOWN_AFTER: int(0, 100_000).default(20),
  SIGN_IN_WINDOW_SECONDS: int(1, 86_400).default(300),
  /** How long a token's account check (exists, not signed out) is trusted before PostgreSQL is asked again. */
  AUTH_CHECK_CACHE_SECONDS: int(0, 300).default(5),
  CART_ABANDON_AFTER_SECONDS: int(1, 60 * 60 * 24 * 365).default(60 * 60),
  GUEST_CART_EXPIRE_AFTER_SECONDS: int(1, 60 * 60 * 24 * 3650).default(60 * 60 * 24 * 30),
  CART_JOB_INTERVAL_SECONDS: int(0, 60 * 60 * 24).default(60),
  SHUTDOWN_GRACE_MS: int(0, 120_000).default(10_000),
  /** How long checkout holds stock for an order that is not paid yet (the sweeper then cancels it). */
  RESERVATION_TTL_SECONDS: int(30, 86_400).default(15 * 60),
  /**
   * How long a checkout saga owns its order before a retry or the recovery job may take it over. Longer
   * than the slowest gateway call (timeout x retries), or two owners could overlap.
   */
  CHECKOUT_SAGA_LEASE_SECONDS: int(1, 3600).default(60),
  /** How often the checkout jobs run: reservation expiry and recovery of orders left PENDING (0 = never). */
  CHECKOUT_JOB_INTERVAL_SECONDS: int(0, 3600).default(30),
  /**
   * How often sold units are taken off on hand and reserved (0 = never: on hand then only grows stale;
   * what can be sold and staff's figures stay right). Short, so the batch stays small.
   */
  STOCK_SETTLEMENT_INTERVAL_MS: int(0, 60_000).default(1000),
  /**
   * How long a flash-sale gate counter is trusted before it must be set again from PostgreSQL. Short:
   * the gate may refuse early only within this window, and never admits past stock in any case.
   */
  STOCK_GATE_TTL_SECONDS: int(1, 3600).default(10),
  /** A held order (fraud review) is voided and cancelled this long after its authorisation (Stripe's lasts 7 days). */
  FRAUD_REVIEW_MAX_HOURS: int(1, 24 * 7).default(144),
  /** Staff are warned (order.review_expiring) when this little time is left to decide. */
  FRAUD_REVIEW_WARN_HOURS: int(0, 24 * 7).default(24),
  /** Test only: stop the process at a named point of a flow (fault tests), e.g. checkout:after-authorize. */
  FAULT_CRASH_AT: z.string().optional(),
  /** Outbox relay safety-net poll; LISTEN/NOTIFY wakes it at once on commit. */
  OUTBOX_POLL_MS: int(10, 3_600_000).default(250),
  /** Outbox consumers' (notifications') safety-net poll; LISTEN/NOTIFY wakes them at once on commit. */
  OUTBOX_CONSUMER_POLL_MS: int(10, 3_600_000).default(1000),
  /** Write notifications from outbox events and send them (the consumer and the sender job). */
  NOTIFICATIONS_ENABLED: bool.default(true),
  /** How often the sender looks for due notifications (it is also woken when new ones are written). */
  NOTIFICATION_POLL_MS: int(10, 3_600_000).default(1000),
  /** Delay before a failed notification's first retry; each further retry doubles it, up to the max. */
  NOTIFICATION_RETRY_BASE_MS: int(10, 86_400_000).default(60_000),
  NOTIFICATION_RETRY_MAX_MS: int(10, 7 * 86_400_000).default(6 * 3_600_000),
  /** Attempts after which a notification is FAILED. */
  NOTIFICATION_MAX_ATTEMPTS: int(1, 100).default(8),
  /** The storefront page that opens an abandoned cart: the email links here with ?store=<handle>&token=<token>. */
  CART_RECOVERY_URL: url(["http:", "https:"]).default("http://localhost:3000/cart/recover"),
  /** Lifetime of a cart recovery link. */
  CART_RECOVERY_TTL_SECONDS: int(300, 90 * 86_400).default(7 * 86_400),
});

export type Env = z.infer<typeof envSchema>;

export interface Config
  extends Omit<
    Env,
    | "SEED_DEMO"
    | "GRAPHQL_INTROSPECTION"
    | "CORS_ORIGINS"
    | "DATABASE_CREATE"
    | "WEB_CONCURRENCY"
    | "DATABASE_POOL_SIZE"
  > {
  /** Server processes, `auto` resolved to the CPU count. */
  WEB_CONCURRENCY: number;
  /** Pool size of each process (given, or derived from DATABASE_MAX_CONNECTIONS). */
  DATABASE_POOL_SIZE: number;
  /** Seed the demo stores into an empty database: default on without DATABASE_URL, off with it. */
  SEED_DEMO: boolean;
  /** Create DATABASE_URL's database at start when it does not exist: default on, off in production. */
  DATABASE_CREATE: boolean;
  GRAPHQL_INTROSPECTION: boolean;
  /** Allowed browser origins; "*" allows any. Without CORS_ORIGINS: localhost origins, except in production. */
  CORS_ORIGINS: string[] | "localhost" | "*";
  /** True when no DATABASE_URL is given and an embedded PostgreSQL is started. */
  embeddedDatabase: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset": shells and .env files often export VAR= .
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data;
  if (e.NODE_ENV === "production" && !e.JWT_SECRET) {
    throw new ConfigError(["JWT_SECRET: required when NODE_ENV=production"]);
  }
  if (e.REDIS_URL && e.REDIS_CLUSTER_NODES) {
    throw new ConfigError([
      "REDIS_CLUSTER_NODES: set either REDIS_URL (one node) or REDIS_CLUSTER_NODES, not both",
    ]);
  }
  if (e.STRIPE_SECRET_KEY && !e.STRIPE_WEBHOOK_SECRET) {
    throw new ConfigError(["STRIPE_WEBHOOK_SECRET: required when STRIPE_SECRET_KEY is set"]);
  }
  if (e.DATABASE_READ_URL && e.DATABASE_READ_PROBE_MS >= e.DATABASE_READ_MAX_LAG_MS) {
    throw new ConfigError([
      "DATABASE_READ_PROBE_MS: must be below DATABASE_READ_MAX_LAG_MS (the lag is only known as of the last probe)",
    ]);
  }
  if (e.NOTIFICATION_RETRY_MAX_MS < e.NOTIFICATION_RETRY_BASE_MS) {
    throw new ConfigError(["NOTIFICATION_RETRY_MAX_MS: must be at least NOTIFICATION_RETRY_BASE_MS"]);
  }
  const concurrency = e.WEB_CONCURRENCY === "auto" ? os.availableParallelism() : e.WEB_CONCURRENCY;
  if (concurrency > 1 && !e.REDIS_URL && !e.REDIS_CLUSTER_NODES) {
    throw new ConfigError([
      `WEB_CONCURRENCY: ${concurrency} processes need REDIS_URL or REDIS_CLUSTER_NODES. Without Redis each ` +
        "process keeps its own in-memory pub/sub, rate limits and sign-in throttles: subscribers on one " +
        "process would miss events published by another, and every limit would be multiplied by the " +
        "process count. Set REDIS_URL, or WEB_CONCURRENCY=1",
    ]);
  }
  const production = e.NODE_ENV === "production";
  return {
    ...e,
    WEB_CONCURRENCY: concurrency,
    DATABASE_POOL_SIZE: poolSizeFor(concurrency, e.DATABASE_POOL_SIZE, e.DATABASE_MAX_CONNECTIONS),
    SEED_DEMO: e.SEED_DEMO ?? !e.DATABASE_URL,
    DATABASE_CREATE: e.DATABASE_CREATE ?? !production,
    GRAPHQL_INTROSPECTION: e.GRAPHQL_INTROSPECTION ?? !production,
    CORS_ORIGINS: parseOrigins(e.CORS_ORIGINS, production),
    embeddedDatabase: !e.DATABASE_URL,
  };
}

/** The pool of one process when DATABASE_POOL_SIZE is not given (and at most that when it fits the budget). */
export const DEFAULT_POOL_SIZE = 10;
/** Connections a process holds besides its pool: the outbox relay's LISTEN connection. */
export const CONNECTIONS_BESIDES_POOL = 1;

/**
 * Every process opens its own pool, so `processes × (pool + CONNECTIONS_BESIDES_POOL)` must fit the
 * connection budget (PostgreSQL's max_connections, or a pooler's limit, less what other programs use).
 * A given pool size that does not fit is refused; an unset one is DEFAULT_POOL_SIZE, lowered to fit.
 */
export function poolSizeFor(processes: number, given: number | undefined, budget: number): number {
  const perProcess = Math.floor(budget / processes) - CONNECTIONS_BESIDES_POOL;
  if (given === undefined) {
    if (perProcess < 1) {
      throw new ConfigError([
        `DATABASE_MAX_CONNECTIONS: ${budget} connections cannot give ${processes} processes (WEB_CONCURRENCY) ` +
          `a pool of 1 plus ${CONNECTIONS_BESIDES_POOL} listener each; raise it or lower WEB_CONCURRENCY`,
      ]);
    }
    return Math.min(DEFAULT_POOL_SIZE, perProcess);
  }
  const needed = processes * (given + CONNECTIONS_BESIDES_POOL);
  if (needed > budget) {
    throw new ConfigError([
      `DATABASE_POOL_SIZE: ${processes} process(es) × (${given} pooled + ${CONNECTIONS_BESIDES_POOL} listener) = ` +
        `${needed} connections exceed DATABASE_MAX_CONNECTIONS=${budget}; lower DATABASE_POOL_SIZE to at most ` +
        `${Math.max(0, perProcess)}, lower WEB_CONCURRENCY, or raise DATABASE_MAX_CONNECTIONS`,
    ]);
  }
  return given;
}

function parseOrigins(value: string | undefined, production: boolean): Config["CORS_ORIGINS"] {
  if (value === undefined) return production ? [] : "localhost";
  const list = value
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);
  if (list.includes("*")) return "*";
  for (const origin of list) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError([`CORS_ORIGINS: "${origin}" is not an origin like https://shop.example.com`]);
    }
    if (url.origin !== origin.replace(/\/$/, "")) {
      throw new ConfigError([
        `CORS_ORIGINS: "${origin}" must be an origin only (scheme, host, port), no path`,
      ]);
    }
  }
  return list.map((o) => o.replace(/\/$/, ""));
}
