/**
 * Custom options of a cart line (gift wrap, personalisation). A line is keyed by variant + options, so
 * the options get a canonical form and a hash that is part of the unique key.
 */
import { createHash } from "node:crypto";
import type { LineOptionsJson } from "../../db/schema.js";
import { ErrorCode, userError } from "../errors.js";

export const MAX_PERSONALIZATION_LENGTH = 200;

export interface LineOptionsInput {
  giftWrap?: boolean | null;
  personalization?: string | null;
}

const ALLOWED_KEYS = new Set(["giftWrap", "personalization"]);

/** Validates and canonicalises options: unset/false/empty values are dropped so equal intents hash equal. */
export function normalizeLineOptions(
  input: LineOptionsInput | null | undefined,
  field: string[],
): LineOptionsJson {
  if (!input) return {};
  for (const key of Object.keys(input)) {
    if (!ALLOWED_KEYS.has(key)) {
      throw userError(ErrorCode.INVALID_INPUT, `Unknown custom option "${key}"`, { field: [...field, key] });
    }
  }
  const options: LineOptionsJson = {};
  if (input.giftWrap === true) options.giftWrap = true;
  if (typeof input.personalization === "string") {
    const text = input.personalization.trim();
    if (text.length > MAX_PERSONALIZATION_LENGTH) {
      throw userError(
        ErrorCode.INVALID_INPUT,
        `Personalization must be at most ${MAX_PERSONALIZATION_LENGTH} characters`,
        { field: [...field, "personalization"] },
      );
    }
    if (text.length > 0) options.personalization = text;
  }
  return options;
}

/** "" for no options (the common case), else a short stable hash of the canonical JSON. */
export function lineOptionsHash(options: LineOptionsJson): string {
  const canonical: [string, unknown][] = Object.entries(options)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => a.localeCompare(b));
  if (canonical.length === 0) return "";
  return createHash("sha256").update(JSON.stringify(canonical)).digest("base64url").slice(0, 22);
}
