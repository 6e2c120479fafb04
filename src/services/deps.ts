import type { Config } from "../config.js";
import type { Db } from "../db/client.js";
import type { Infra } from "../infra/types.js";
import type { Logger } from "../logger.js";
import type { PasswordCost } from "./password.js";
import type { TokenService } from "./tokens.js";

/** What every service is constructed with. `now` is injectable so time rules can be tested. */
export interface ServiceDeps {
  db: Db;
  infra: Infra;
  config: Config;
  logger: Logger;
  tokens: TokenService;
  passwordCost: PasswordCost;
  now: () => Date;
}
