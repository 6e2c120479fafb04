/**
 * WEB_CONCURRENCY > 1: the process `npm start` started becomes a node:cluster primary that serves
 * nothing itself. It forks that many workers; each runs the normal server (main.ts) on the same port
 * (the primary accepts the connections and hands them out round-robin), and they share nothing but
 * PostgreSQL and Redis (config.ts refuses more than one process without Redis).
 *
 * Before forking, the primary does what must happen once per instance rather than once per worker:
 *  - checks that the port is free (workers listen on the primary's socket, so they cannot probe it);
 *  - embedded mode: starts THE embedded PostgreSQL (one server per data directory, ever) and gives
 *    the workers its URL as DATABASE_URL, with SEED_DEMO as the embedded mode defaults it;
 *  - external mode: creates DATABASE_URL's database when allowed and missing (workers would race);
 *  - without JWT_SECRET: creates the development secret in DATA_DIR, which every worker then reads
 *    (workers generating their own would reject each other's tokens).
 * Migrations and the demo seed stay in the workers: both are serialised by advisory locks.
 *
 * A worker that dies is replaced, after a delay that doubles with every death that follows its start
 * closely (a crash loop waits up to RESTART_MAX_MS between attempts instead of spinning). A worker that
 * dies before the cluster was ever ready is a failed start: everything stops, with its exit code.
 * SIGTERM / SIGINT are passed on to the workers; the primary exits once they have drained, and stops
 * the embedded database last.
 */
import cluster, { type Worker } from "node:cluster";
import type { Config } from "./config.js";
import type { EmbeddedDatabase } from "./db/embedded.js";
import type { Logger } from "./logger.js";
import { jwtSecret, startConfiguredEmbeddedPostgres } from "./runtime.js";
import { prepareDatabase } from "./startup/database-check.js";
import { assertPortFree } from "./startup/ports.js";
import { installLastResortHandlers } from "./startup/process-guards.js";
import { EXIT_CODES, StartupError } from "./startup/startup-error.js";

/** First restart delay; each further quick death doubles it, up to RESTART_MAX_MS. */
export const RESTART_MIN_MS = 250;
export const RESTART_MAX_MS = 30_000;
/** A worker that lived this long before dying was healthy: its next restart is immediate again. */
export const HEALTHY_AFTER_MS = 30_000;

/** Delay before restarting a worker that died `quickDeaths` times in a row soon after starting. */
export function restartDelayMs(quickDeaths: number): number {
  return Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** Math.max(0, quickDeaths - 1));
}

/** This process should fork workers instead of serving. */
export function isClusterPrimary(config: Config): boolean {
  return config.WEB_CONCURRENCY > 1 && cluster.isPrimary;
}

/** A cluster worker listens on its primary's socket (so it must not probe the port itself). */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

interface Slot {
  index: number;
  worker?: Worker;
  startedAt: number;
  /** Its current worker is listening. */
  ready: boolean;
  quickDeaths: number;
  restartTimer?: NodeJS.Timeout;
}

/** Runs the primary until it has stopped; it exits the process itself. */
export async function runClusterPrimary(config: Config, logger: Logger): Promise<void> {
  const processes = config.WEB_CONCURRENCY;
  let phase: "starting" | "running" | "stopping" = "starting";
  let stopRequested = false;
  let everReady = false;
  let embedded: EmbeddedDatabase | undefined;
  const slots: Slot[] = Array.from({ length: processes }, (_, index) => ({
    index,
    startedAt: 0,
    ready: false,
    quickDeaths: 0,
  }));
  const live = () => slots.filter((s) => s.worker !== undefined);
  let allExited: (() => void) | undefined;

  let stopping: Promise<never> | undefined;
  const stop = (exitCode: number): Promise<never> => {
    stopping ??= drainAndExit(exitCode);
    return stopping;
  };
  const drainAndExit = async (exitCode: number): Promise<never> => {
    phase = "stopping";
    for (const slot of slots) clearTimeout(slot.restartTimer);
    const drained = new Promise<void>((resolve) => {
      allExited = resolve;
      if (live().length === 0) resolve();
    });
    for (const slot of live()) slot.worker?.process.kill("SIGTERM");
    // Each worker bounds its own drain by SHUTDOWN_GRACE_MS (+5 s); one that still hangs is killed.
    const graceMs = config.SHUTDOWN_GRACE_MS + 10_000;
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      for (const slot of live()) {
        logger.error({ event: "worker_hung", worker: slot.index, pid: slot.worker?.process.pid }, "killing");
        slot.worker?.process.kill("SIGKILL");
      }
    }, graceMs);
    await drained;
    clearTimeout(timer);
    try {
      await embedded?.stop();
    } catch (err) {
      logger.error({ err }, "stopping the embedded PostgreSQL failed");
      exitCode ||= EXIT_CODES.unexpected;
    }
    logger.info({ event: "stopped" }, "cluster stopped");
    process.exit(hung && exitCode === 0 ? EXIT_CODES.unexpected : exitCode);
  };

  installLastResortHandlers({ logger, cleanup: () => stop(EXIT_CODES.unexpected) });
  const onSignal = (signal: NodeJS.Signals) => {
    if (phase === "stopping") return;
    logger.info({ event: "stopping", signal, workers: live().length }, "stopping the workers");
    if (phase === "starting") stopRequested = true;
    else void stop(0);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  const workerEnv: Record<string, string> = {
    // Resolved once here, so every worker derives the same pool from the same numbers.
    WEB_CONCURRENCY: String(processes),
    DATABASE_POOL_SIZE: String(config.DATABASE_POOL_SIZE),
  };
  try {
    if (config.PORT !== 0) await assertPortFree(config.PORT, config.HOST, "PORT");
    if (config.DATABASE_URL) {
      await prepareDatabase(config.DATABASE_URL, { create: config.DATABASE_CREATE, logger });
    } else {
      embedded = await startConfiguredEmbeddedPostgres(config, logger);
      workerEnv.DATABASE_URL = embedded.url;
      workerEnv.SEED_DEMO = String(config.SEED_DEMO);
    }
    await jwtSecret(config, logger);
  } catch (e) {
    if (e instanceof StartupError) {
      logger.fatal({ event: "startup_failed", code: e.code }, e.message);
    } else {
      logger.fatal({ event: "startup_failed", code: "UNEXPECTED", err: e }, "start-up failed unexpectedly");
    }
    return stop(e instanceof StartupError ? e.exitCode : EXIT_CODES.unexpected);
  }
  if (stopRequested) return stop(0);

  const fork = (slot: Slot) => {
    slot.restartTimer = undefined;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ ...workerEnv, CARTOGRAPH_WORKER: String(slot.index) });
    slot.worker = worker;
    slot.ready = false;
    worker.once("listening", () => {
      slot.ready = true;
      logger.info({ event: "worker_ready", worker: slot.index, pid: worker.process.pid }, "worker ready");
      if (everReady || !slots.every((s) => s.ready)) return;
      everReady = true;
      logger.info(
        { event: "cluster_ready", workers: processes, poolPerWorker: config.DATABASE_POOL_SIZE },
        `${processes} workers serving port ${config.PORT}, ${config.DATABASE_POOL_SIZE} database connections each`,
      );
    });
  };

  cluster.on("exit", (worker, code, signal) => {
    const slot = slots.find((s) => s.worker === worker);
    if (!slot) return;
    slot.worker = undefined;
    slot.ready = false;
    if (phase === "stopping") {
      if (live().length === 0) allExited?.();
      return;
    }
    const pid = worker.process.pid;
    if (!everReady) {
      logger.fatal(
        {
          event: "startup_failed",
          code: "WORKER_START_FAILED",
          worker: slot.index,
          pid,
          exitCode: code,
          signal,
        },
        `worker ${slot.index} exited (${signal ?? code}) before the cluster was ready: stopping`,
      );
      void stop(code && code > 0 ? code : EXIT_CODES.unexpected);
      return;
    }
    const lived = Date.now() - slot.startedAt;
    slot.quickDeaths = lived < HEALTHY_AFTER_MS ? slot.quickDeaths + 1 : 1;
    const delay = restartDelayMs(slot.quickDeaths);
    logger.error(
      {
        event: "worker_exited",
        worker: slot.index,
        pid,
        exitCode: code,
        signal,
        livedMs: lived,
        restartInMs: delay,
      },
      `worker ${slot.index} (pid ${pid}) exited (${signal ?? code}); restarting in ${delay} ms`,
    );
    slot.restartTimer = setTimeout(() => fork(slot), delay);
  });

  phase = "running";
  logger.info(
    { event: "cluster_starting", workers: processes, poolPerWorker: config.DATABASE_POOL_SIZE },
    `starting ${processes} workers`,
  );
  for (const slot of slots) fork(slot);
}
