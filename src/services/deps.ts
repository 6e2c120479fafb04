import type { Config } from "../config.js";
import type { Db } from "../db/client.js";
import type { ReadExecutor } from "../db/read-executor.js";
import type { Infra } from "../infra/types.js";
import type { Logger } from "../logger.js";
import type { PasswordCost } from "./password.js";
import type { TokenService } from "./tokens.js";

/**
 * Named points in long flows where a fault test can stop the process (NODE_ENV=test only, see
 * runtime.ts): "checkout:after-place-order", "checkout:after-authorize".
 */
export interface FaultPoints {
  at(point: string): void;
}

/** What every service is constructed with. `now` is injectable so time rules can be tested. */
export interface ServiceDeps {
  /** The primary: every write, every transaction, and every read that must be current. */
  db: Db;
  /** Reads that may be served by a read replica when the request allows it (`ServiceContext.reads`). */
  reads: ReadExecutor;
  infra: Infra;
  config: Config;
  logger: Logger;
  tokens: TokenService;
  passwordCost: PasswordCost;
  now: () => Date;
  faults?: FaultPoints;
}
