/** Start-up: config -> database (migrate) -> redis -> http+ws server; graceful shutdown on signals. */
import "reflect-metadata";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { seedDemoIfEmpty } from "./db/seed.js";
import { createLogger } from "./logger.js";
import { startRuntime } from "./runtime.js";

async function main(): Promise<void> {
  const startedAt = performance.now();
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(78);
    }
    throw e;
  }
  const logger = createLogger(config.LOG_LEVEL);
  const runtime = await startRuntime(config, { logger });
  if (config.SEED_DEMO) {
    const seeded = await seedDemoIfEmpty(runtime.database.db, {
      staffPassword: config.DEMO_STAFF_PASSWORD,
      passwordCost: runtime.services.deps.passwordCost,
    });
    if (seeded) logger.info({ stores: seeded.stores }, "seeded the demo stores");
    const password = await demoStaffPassword(config, seeded?.generatedStaffPassword);
    if (password) {
      console.log(
        `\n  Demo staff: staff@demo.test (store demo), staff@demo-eu.test (store demo-eu)  password: ${password}\n` +
          (config.DEMO_STAFF_PASSWORD
            ? ""
            : "  (generated at first start; set DEMO_STAFF_PASSWORD to choose it)\n"),
      );
    }
  }
  const port = await runtime.app.listen(config.PORT, config.HOST);
  const ms = Math.round(performance.now() - startedAt);
  logger.info(
    { port, ms, database: config.embeddedDatabase ? "embedded" : "external", cache: runtime.infra.kind },
    "ready",
  );
  console.log(`\n  Cartograph is ready in ${ms} ms\n  Playground: http://localhost:${port}/graphql\n`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      logger.error("shutdown grace period exceeded; exiting");
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 5_000);
    timer.unref();
    try {
      await runtime.stop();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/**
 * The demo staff password to print: DEMO_STAFF_PASSWORD, else the one generated when the demo was seeded.
 * That one is kept in DATA_DIR so it can be shown again on every start of the same data.
 */
async function demoStaffPassword(config: Config, generated: string | undefined): Promise<string | null> {
  if (config.DEMO_STAFF_PASSWORD) return config.DEMO_STAFF_PASSWORD;
  const file = path.join(config.DATA_DIR, "demo-staff-password");
  if (generated) {
    await mkdir(config.DATA_DIR, { recursive: true });
    await writeFile(file, generated, { mode: 0o600 });
    return generated;
  }
  return existsSync(file) ? (await readFile(file, "utf8")).trim() : null;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
