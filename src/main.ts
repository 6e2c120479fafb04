/**
 * Start-up: config -> checks (ports, database) -> database (migrate) -> redis -> http+ws server;
 * graceful shutdown on signals. Every line goes through the logger (human lines on a terminal, JSON
 * otherwise); a start-up failure is one line and an exit code, and never leaves the embedded
 * PostgreSQL running.
 */
import "reflect-metadata";
import { isClusterPrimary, isClusterWorker, runClusterPrimary } from "./cluster.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { seedDemoIfEmpty } from "./db/seed.js";
import { createLogger, type Logger, resolveLogFormat } from "./logger.js";
import { type Runtime, startRuntime } from "./runtime.js";
import { prepareDatabase } from "./startup/database-check.js";
import { announceDemoStaff } from "./startup/demo-staff.js";
import { assertPortFree } from "./startup/ports.js";
import { installLastResortHandlers } from "./startup/process-guards.js";
import { EXIT_CODES, StartupError } from "./startup/startup-error.js";
import { warnAboutMissingStores } from "./startup/store-check.js";

// Every import above has been evaluated by now: this is what module loading cost.
const moduleLoadMs = Math.round(performance.now());

/** Thrown between start-up steps when a signal asked us to stop. */
class StopRequested extends Error {}

async function main(): Promise<void> {
  const format = resolveLogFormat(process.env.LOG_FORMAT, process.stdout.isTTY === true);
  const logger = createLogger("info", { format });
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    logger.fatal(
      { event: "startup_failed", code: "CONFIG_INVALID", problems: e.problems },
      `Invalid configuration: ${e.problems.join("; ")}`,
    );
    process.exit(EXIT_CODES.config);
  }
  logger.level = config.LOG_LEVEL;
  // WEB_CONCURRENCY > 1: this process forks the servers and supervises them (src/cluster.ts).
  if (isClusterPrimary(config)) return runClusterPrimary(config, logger);

  let runtime: Runtime | undefined;
  let state: "starting" | "running" | "stopping" = "starting";
  let stopRequested: string | undefined;
  const stopRuntime = async () => {
    const running = runtime;
    runtime = undefined;
    await running?.stop();
  };
  installLastResortHandlers({ logger, cleanup: stopRuntime });

  const shutdown = async (signal: string) => {
    state = "stopping";
    logger.info({ event: "stopping", signal }, "shutting down");
    const timer = setTimeout(() => {
      logger.error("shutdown grace period exceeded; exiting");
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 5_000);
    timer.unref();
    try {
      await stopRuntime();
      logger.info({ event: "stopped" }, "stopped");
      process.exit(0);
    } catch (err) {
      logger.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (state === "running") return void shutdown(signal);
    // Shutdown is already under way and bounded by its grace timer.
    if (state === "stopping") return;
    if (!stopRequested) {
      stopRequested = signal;
      logger.info({ event: "stopping", signal }, "stopping once the current start-up step ends");
      return;
    }
    logger.warn({ signal }, "second signal during start-up: exiting now");
    process.exit(1);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  const stopIfAsked = () => {
    if (stopRequested) throw new StopRequested();
  };

  try {
    // Before any work: a taken port must fail now, not after initdb and seeding.
    // A cluster worker listens on its primary's socket; the primary checked the port.
    if (config.PORT !== 0 && !isClusterWorker()) await assertPortFree(config.PORT, config.HOST, "PORT");
    if (config.DATABASE_URL) {
      await prepareDatabase(config.DATABASE_URL, { create: config.DATABASE_CREATE, logger });
    }
    stopIfAsked();
    runtime = await startRuntime(config, { logger });
    stopIfAsked();
    if (config.SEED_DEMO) {
      const seeded = await seedDemoIfEmpty(runtime.database.db, {
        staffPassword: config.DEMO_STAFF_PASSWORD,
        passwordCost: runtime.services.deps.passwordCost,
      });
      if (seeded) logger.info({ stores: seeded.stores }, "seeded the demo stores");
      await announceDemoStaff(config, seeded?.generatedStaffPassword, logger, format);
    }
    await warnAboutMissingStores(runtime.database.db, logger, config.DEFAULT_STORE);
    stopIfAsked();
    const port = await listen(runtime, config);
    state = "running";
    announceReady(logger, config, runtime, port);
    if (stopRequested) void shutdown(stopRequested);
  } catch (e) {
    await failStart(e, logger, stopRuntime);
  }
}

async function listen(runtime: Runtime, config: Config): Promise<number> {
  try {
    return await runtime.app.listen(config.PORT, config.HOST);
  } catch (e) {
    // Taken between the early check and now.
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE")
      await assertPortFree(config.PORT, config.HOST, "PORT");
    throw e;
  }
}

function announceReady(logger: Logger, config: Config, runtime: Runtime, port: number): void {
  const readyMs = Math.round(performance.now());
  const playground = `http://localhost:${port}/graphql`;
  logger.info(
    {
      event: "ready",
      port,
      readyMs,
      moduleLoadMs,
      playground,
      database: config.embeddedDatabase ? "embedded" : "external",
      cache: runtime.infra.kind,
    },
    `ready in ${readyMs} ms since the process started (${moduleLoadMs} ms of it loading modules); playground ${playground}`,
  );
}

/** Logs why start-up stopped (one line when it is a known problem), stops what started, exits. */
async function failStart(e: unknown, logger: Logger, stopRuntime: () => Promise<void>): Promise<never> {
  let exitCode: number = EXIT_CODES.unexpected;
  if (e instanceof StopRequested) {
    exitCode = 0;
  } else if (e instanceof StartupError) {
    logger.fatal({ event: "startup_failed", code: e.code }, e.message);
    exitCode = e.exitCode;
  } else {
    logger.fatal({ event: "startup_failed", code: "UNEXPECTED", err: e }, "start-up failed unexpectedly");
  }
  try {
    await stopRuntime();
  } catch (err) {
    logger.error({ err }, "stopping after the failed start failed");
  }
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  // Only reached if the logger itself could not be set up.
  console.error(err);
  process.exit(1);
});
