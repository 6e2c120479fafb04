/** Defaults of the Redis settings, shared by config.ts (REDIS_*) and createRedisInfra's options. */
export const REDIS_DEFAULTS = {
  /** REDIS_COMMAND_TIMEOUT_MS: the most one call can lose to a hung Redis before the circuit opens. */
  commandTimeoutMs: 500,
  /** REDIS_BREAKER_OPEN_MS: how long Redis is skipped after a timeout or connection error. */
  breakerOpenMs: 5_000,
  connectTimeoutMs: 2_000,
} as const;
