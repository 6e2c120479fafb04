/** Demo data (work in progress this session). */
import type { Db } from "./client.js";
import type { PasswordCost } from "../services/password.js";

export interface SeedResult {
  stores: string[];
  generatedStaffPassword?: string;
}

export async function seedDemoIfEmpty(
  _db: Db,
  _opts: { staffPassword?: string; passwordCost: PasswordCost },
): Promise<SeedResult | null> {
  return null;
}
