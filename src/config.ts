/**
 * Every setting Cartograph reads, parsed and validated once into one typed object.
 * A bad value stops start-up with a message that names the variable.
 */
import { z } from "zod";

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

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).default("0.0.0.0"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Unset: human lines when stdout is a terminal, JSON lines otherwise (resolved in logger.ts). */
  LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
  DATABASE_URL: url(["postgres:", "postgresql:"]).optional(),
  DATABASE_POOL_SIZE: int(1, 500).default(10),
  DATABASE_CREATE: bool.optional(),
  REDIS_URL: url(["redis:", "rediss:"]).optional(),
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
  SEED_DEMO: bool.optional(),
  DEMO_STAFF_PASSWORD: z.string().min(8, "must be at least 8 characters").optional(),
  MAX_QUERY_DEPTH: int(2, 100).default(12),
  MAX_QUERY_COMPLEXITY: int(10, 1_000_000).default(10_000),
  MAX_BODY_BYTES: int(1024, 10 * 1024 * 1024).default(256 * 1024),
  RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).default(600),
  CART_CACHE_TTL_SECONDS: int(1, 60 * 60 * 24 * 30).default(60 * 60 * 24),
  CART_ABANDON_AFTER_SECONDS: int(1, 60 * 60 * 24 * 365).default(60 * 60),
  GUEST_CART_EXPIRE_AFTER_SECONDS: int(1, 60 * 60 * 24 * 3650).default(60 * 60 * 24 * 30),
  CART_JOB_INTERVAL_SECONDS: int(0, 60 * 60 * 24).default(60),
  SHUTDOWN_GRACE_MS: int(0, 120_000).default(10_000),
  /** Outbox relay safety-net poll; LISTEN/NOTIFY wakes it at once on commit. */
  OUTBOX_POLL_MS: int(10, 3_600_000).default(250),
});

export type Env = z.infer<typeof envSchema>;

export interface Config extends Omit<Env, "SEED_DEMO" | "DATABASE_CREATE"> {
  /** Seed the demo stores into an empty database: default on without DATABASE_URL, off with it. */
  SEED_DEMO: boolean;
  /** Create DATABASE_URL's database at start when it does not exist: default on, off in production. */
  DATABASE_CREATE: boolean;
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
  if (e.STRIPE_SECRET_KEY && !e.STRIPE_WEBHOOK_SECRET) {
    throw new ConfigError(["STRIPE_WEBHOOK_SECRET: required when STRIPE_SECRET_KEY is set"]);
  }
  return {
    ...e,
    SEED_DEMO: e.SEED_DEMO ?? !e.DATABASE_URL,
    DATABASE_CREATE: e.DATABASE_CREATE ?? e.NODE_ENV !== "production",
    embeddedDatabase: !e.DATABASE_URL,
  };
}
