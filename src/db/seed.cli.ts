/**
 * `npm run seed`: seeds the demo stores into DATABASE_URL (or the embedded PostgreSQL under DATA_DIR,
 * the one `npm start` uses) when that database has no store yet. Applies migrations first.
 */
import path from "node:path";
import { ConfigError, loadConfig } from "../config.js";
import { DEFAULT_PASSWORD_COST } from "../services/password.js";
import { StartupError } from "../startup/startup-error.js";
import { createDatabase } from "./client.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./embedded.js";
import { runMigrations } from "./migrate.js";
import { seedDemoIfEmpty } from "./seed.js";

async function main(): Promise<void> {
  const config = loadConfig();
  let embedded: EmbeddedDatabase | undefined;
  let url = config.DATABASE_URL;
  if (!url) {
    // One server per data directory: with `npm start` running this fails with a line saying so.
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(config.DATA_DIR, "pg"),
      port: config.EMBEDDED_PG_PORT,
      notice: (message) => console.log(message),
    });
    url = embedded.url;
  }
  try {
    await runMigrations(url);
    const database = createDatabase(url, { poolSize: 2 });
    try {
      const seeded = await seedDemoIfEmpty(database.db, {
        staffPassword: config.DEMO_STAFF_PASSWORD,
        passwordCost: DEFAULT_PASSWORD_COST,
      });
      if (!seeded) {
        console.log("The database already has stores: nothing seeded.");
        return;
      }
      console.log(`Seeded the demo stores: ${seeded.stores.join(", ")}`);
      console.log("Staff accounts: staff@demo.test (store demo), staff@demo-eu.test (store demo-eu)");
      console.log(
        seeded.generatedStaffPassword
          ? `Staff password (generated; set DEMO_STAFF_PASSWORD to choose it): ${seeded.generatedStaffPassword}`
          : "Staff password: the value of DEMO_STAFF_PASSWORD",
      );
    } finally {
      await database.close();
    }
  } finally {
    await embedded?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof ConfigError || err instanceof StartupError ? err.message : err);
    process.exit(err instanceof ConfigError ? 78 : err instanceof StartupError ? err.exitCode : 1);
  },
);
