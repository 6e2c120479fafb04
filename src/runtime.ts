/**
 * Wires a running Cartograph from a config: database (given or embedded), migrations, infra (Redis or
 * in-memory), services, schema and the HTTP/WebSocket app. Used by main.ts and by the tests, so the
 * tests exercise the same wiring production uses.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Config } from "./config.js";
import { createDatabase, type Database } from "./db/client.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./db/embedded.js";
import { runMigrations } from "./db/migrate.js";
import { appliedMigrationCount, expectedMigrationCount } from "./db/migration-status.js";
import { createReadExecutor } from "./db/read-executor.js";
import { ReadReplica } from "./db/read-replica.js";
import { createMemoryInfra } from "./infra/memory.js";
import { createRedisInfra } from "./infra/redis.js";
import type { Infra } from "./infra/types.js";
import type { Logger } from "./logger.js";
import { createPaymentGateway, type PaymentGateway } from "./payments/index.js";
import { buildCartographSchema } from "./schema/build.js";
import { type App, createApp } from "./server/app.js";
import { registerReadReplicaMetrics, registerStockSettlementMetrics } from "./server/metrics.js";
import type { FaultPoints } from "./services/deps.js";
import { createServices, type Services } from "./services/index.js";
import { NotificationJobs } from "./services/notifications/notification-jobs.js";
import type { NotificationTransport } from "./services/notifications/notification-transport.js";
import { OutboxRelay } from "./services/outbox-relay.js";
import { DEFAULT_PASSWORD_COST, type PasswordCost } from "./services/password.js";
import { TokenService } from "./services/tokens.js";

export interface Runtime {
  config: Config;
  database: Database;
  databaseUrl: string;
  /** The read replica (DATABASE_READ_URL), when configured. */
  readReplica?: ReadReplica;
  infra: Infra;
  services: Services;
  app: App;
  /** Publishes committed outbox events to `infra.pubsub` (LISTEN/NOTIFY + poll). */
  outboxRelay: OutboxRelay;
  /** The notifications consumer and sender (absent with NOTIFICATIONS_ENABLED=false). */
  notifications?: NotificationJobs;
  /** Stops background jobs, drains the server, closes pools, stops the embedded database. */
  stop(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Use this database instead of DATABASE_URL / embedded (tests). */
  databaseUrl?: string;
  /** Use this infra instead of REDIS_URL / memory (tests). */
  infra?: Infra;
  passwordCost?: PasswordCost;
  now?: () => Date;
  /** Use this payment gateway instead of the one the config names (tests). */
  gateway?: PaymentGateway;
  /** Skip migrations (tests clone an already migrated template). */
  skipMigrations?: boolean;
  /** Deliver notifications through this instead of the logging transport. */
  notificationTransport?: NotificationTransport;
}

export async function startRuntime(config: Config, opts: RuntimeOptions): Promise<Runtime> {
  const { logger } = opts;
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = opts.databaseUrl ?? config.DATABASE_URL;
  if (!databaseUrl) {
    embedded = await startConfiguredEmbeddedPostgres(config, logger);
    databaseUrl = embedded.url;
  }
  let readReplica: ReadReplica | undefined;
  try {
    if (!opts.skipMigrations) await runMigrations(databaseUrl);
    const countStatements = config.NODE_ENV === "test";
    const database = createDatabase(databaseUrl, { poolSize: config.DATABASE_POOL_SIZE, countStatements });
    if (config.DATABASE_READ_URL) {
      readReplica = new ReadReplica({
        url: config.DATABASE_READ_URL,
        primaryUrl: databaseUrl,
        maxLagMs: config.DATABASE_READ_MAX_LAG_MS,
        probeIntervalMs: config.DATABASE_READ_PROBE_MS,
        poolSize: config.DATABASE_POOL_SIZE,
        logger,
        countStatements,
      });
      // A replica that is down at start-up is skipped, not fatal: the primary serves until it is up.
      await readReplica.start();
    }
    const redisTarget = config.REDIS_CLUSTER_NODES
      ? { clusterNodes: config.REDIS_CLUSTER_NODES }
      : config.REDIS_URL;
    const infra =
      opts.infra ??
      (redisTarget
        ? createRedisInfra(redisTarget, {
            logger,
            commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
            breakerOpenMs: config.REDIS_BREAKER_OPEN_MS,
          })
        : createMemoryInfra());
    const tokens = new TokenService(await jwtSecret(config, logger), config.JWT_TTL_SECONDS);
    const gateway = opts.gateway ?? createPaymentGateway(config);
    const services = createServices(
      {
        db: database.db,
        reads: createReadExecutor(database.db, readReplica),
        infra,
        config,
        logger,
        tokens,
        passwordCost: opts.passwordCost ?? DEFAULT_PASSWORD_COST,
        now: opts.now ?? (() => new Date()),
        faults: faultPoints(config, logger),
      },
      { gateway },
    );
    const schema = await buildCartographSchema();
    const expectedMigrations = expectedMigrationCount();
    const app = await createApp({
      config,
      services,
      schema,
      logger,
      readiness: async () => {
        const reachable = await database.sql`select 1`.then(
          () => true,
          () => false,
        );
        const migrated =
          reachable && (await appliedMigrationCount(database.sql).catch(() => 0)) >= expectedMigrations;
        // Redis is detail: without it the API serves from PostgreSQL (slower, single-instance events).
        const health = infra.health();
        const redis =
          infra.kind === "memory"
            ? { configured: false }
            : { configured: true, kind: health.kind, reachable: await infra.ping(), breaker: health.breaker };
        return {
          ready: reachable && migrated,
          database: { reachable, migrated },
          redis,
          ...(readReplica ? { replica: readReplica.readiness() } : {}),
        };
      },
    });
    if (readReplica) registerReadReplicaMetrics(app.metrics.registry, readReplica);
    registerStockSettlementMetrics(app.metrics.registry, services.stockSettlement);
    services.cartLifecycle.start(config.CART_JOB_INTERVAL_SECONDS);
    services.checkoutRecovery.start(config.CHECKOUT_JOB_INTERVAL_SECONDS);
    services.stockSettlement.start(config.STOCK_SETTLEMENT_INTERVAL_MS);
    const outboxRelay = new OutboxRelay({
      db: database.db,
      listener: database.sql,
      pubsub: infra.pubsub,
      logger,
      pollMs: config.OUTBOX_POLL_MS,
    });
    await outboxRelay.start();
    const notifications = config.NOTIFICATIONS_ENABLED
      ? new NotificationJobs({
          db: database.db,
          listener: database.sql,
          logger,
          config,
          cartRecovery: services.cartRecovery,
          transport: opts.notificationTransport,
        })
      : undefined;
    await notifications?.start();
    return {
      config,
      database,
      databaseUrl,
      readReplica,
      infra,
      services,
      app,
      outboxRelay,
      notifications,
      async stop() {
        try {
          await notifications?.stop();
          await outboxRelay.stop();
          await services.cartLifecycle.stop();
          await services.checkoutRecovery.stop();
          await services.stockSettlement.stop();
          await app.close();
          await infra.close();
          await readReplica?.close();
          await database.close();
        } finally {
          await embedded?.stop();
        }
      },
    };
  } catch (e) {
    await readReplica?.close().catch(() => {});
    await embedded?.stop();
    throw e;
  }
}

/** The embedded PostgreSQL of DATA_DIR / EMBEDDED_PG_PORT (the runtime's, or a cluster primary's). */
export function startConfiguredEmbeddedPostgres(config: Config, logger: Logger): Promise<EmbeddedDatabase> {
  logger.info({ dataDir: config.DATA_DIR }, "starting embedded PostgreSQL");
  return startEmbeddedPostgres({
    dataDir: path.join(config.DATA_DIR, "pg"),
    port: config.EMBEDDED_PG_PORT,
    log: (line) => logger.trace({ pg: line }),
    notice: (message) => logger.warn({ event: "embedded_cleanup" }, message),
  });
}

/**
 * JWT_SECRET when set. Otherwise (development) a random secret kept in DATA_DIR, so tokens survive a
 * restart of the embedded setup. A cluster primary calls it before forking, so that its workers all
 * read the one file instead of racing to write different secrets.
 */
export async function jwtSecret(config: Config, logger: Logger): Promise<string> {
  if (config.JWT_SECRET) return config.JWT_SECRET;
  const file = path.join(config.DATA_DIR, "jwt-secret");
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const secret = randomBytes(48).toString("base64url");
  await mkdir(config.DATA_DIR, { recursive: true });
  await writeFile(file, secret, { mode: 0o600 });
  logger.warn({ file }, "JWT_SECRET not set: generated one for development");
  return secret;
}

/**
 * Fault tests stop a real server process at a named point of a flow (FAULT_CRASH_AT), exactly like a
 * power cut: SIGKILL, no cleanup. Honoured only with NODE_ENV=test, so no configuration can arm it in
 * production.
 */
function faultPoints(config: Config, logger: Logger): FaultPoints | undefined {
  const armed = config.FAULT_CRASH_AT;
  if (!armed || config.NODE_ENV !== "test") return undefined;
  return {
    at(point) {
      if (point !== armed) return;
      logger.warn({ point }, "fault injection: killing the process");
      process.kill(process.pid, "SIGKILL");
    },
  };
}
