/**
 * Says at start what would otherwise surface as every request failing with `Unknown store`: an empty
 * database (no store yet), or a DEFAULT_STORE that names no store.
 */
import { eq } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { stores } from "../db/schema.js";
import { hasStores } from "../db/seed.js";
import type { Logger } from "../logger.js";

export async function warnAboutMissingStores(
  db: Db,
  logger: Logger,
  defaultStore: string | undefined,
): Promise<void> {
  if (!(await hasStores(db))) {
    logger.warn(
      { event: "no_store" },
      'No store exists yet, so every request fails with Unknown store "(default)": create the demo stores ' +
        "with `npm run seed` (this server sees them at once, no restart), or start with SEED_DEMO=true.",
    );
    return;
  }
  if (!defaultStore) return;
  const [row] = await db
    .select({ id: stores.id })
    .from(stores)
    .where(eq(stores.handle, defaultStore))
    .limit(1);
  if (!row) {
    logger.warn(
      { event: "no_default_store", defaultStore },
      `DEFAULT_STORE "${defaultStore}" names no store, so requests without an x-store header fail: ` +
        "fix DEFAULT_STORE or unset it to use the oldest store.",
    );
  }
}
