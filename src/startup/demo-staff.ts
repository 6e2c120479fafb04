/**
 * Where the demo staff password is told. It is a secret, so it never goes into JSON logs (those are
 * shipped to log stores): a terminal (human lines) shows it, JSON lines say where to find it.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config.js";
import type { LogFormat, Logger } from "../logger.js";

const ACCOUNTS = "staff@demo.test (store demo), staff@demo-eu.test (store demo-eu)";

export async function announceDemoStaff(
  config: Config,
  generated: string | undefined,
  logger: Logger,
  format: LogFormat,
): Promise<void> {
  const file = path.join(config.DATA_DIR, "demo-staff-password");
  if (generated) {
    await mkdir(config.DATA_DIR, { recursive: true });
    await writeFile(file, generated, { mode: 0o600 });
  }
  if (config.DEMO_STAFF_PASSWORD) {
    logger.info(
      { event: "demo_staff" },
      `Demo staff: ${ACCOUNTS}, password: the value of DEMO_STAFF_PASSWORD`,
    );
    return;
  }
  if (!existsSync(file)) return;
  if (format === "pretty") {
    const password = (await readFile(file, "utf8")).trim();
    logger.info(
      { event: "demo_staff" },
      `Demo staff: ${ACCOUNTS}, password: ${password} (generated at first start; set DEMO_STAFF_PASSWORD to choose it)`,
    );
  } else {
    logger.info({ event: "demo_staff", passwordFile: file }, `Demo staff: ${ACCOUNTS}, password in ${file}`);
  }
}
