/**
 * Input rules of the catalog's staff mutations. Product creation reports every problem at once (a form
 * shows them all), each with the path of the offending field from the mutation's arguments.
 */
import { ErrorCode, type UserErrorData, UserFacingError } from "./errors.js";
import { MAX_UNIT_PRICE } from "./money-bounds.js";
import { requireInt, requireText } from "./validation.js";

export const PRODUCT_STATUSES = ["ACTIVE", "DRAFT", "ARCHIVED"] as const;
export type ProductStatus = (typeof PRODUCT_STATUSES)[number];

/** Prices are minor units, at most MAX_UNIT_PRICE (see money-bounds.ts). */
export const MAX_PRICE = MAX_UNIT_PRICE;
export const MAX_STOCK_DELTA = 1_000_000;
const MAX_VARIANTS = 100;
const MAX_ATTRIBUTES = 30;

export interface VariantCreateInput {
  sku: string;
  title: string;
  attributes?: Record<string, unknown> | null;
  /** Overrides the product's base price; null/absent = base price. */
  price?: number | null;
  stockOnHand?: number | null;
  lowStockThreshold?: number | null;
}

export interface ProductCreateInput {
  name: string;
  description?: string | null;
  basePrice: number;
  status?: ProductStatus | null;
  variants: VariantCreateInput[];
}

export interface ValidVariant {
  sku: string;
  title: string;
  attributes: Record<string, string>;
  priceOverride: number | null;
  stockOnHand: number;
  lowStockThreshold: number;
}

export interface ValidProduct {
  name: string;
  description: string | null;
  basePrice: number;
  status: ProductStatus;
  variants: ValidVariant[];
}

/** Runs one check; a failed check adds its userErrors to `errors` instead of stopping the others. */
function collect<T>(errors: UserErrorData[], check: () => T): T | undefined {
  try {
    return check();
  } catch (e) {
    if (!(e instanceof UserFacingError)) throw e;
    errors.push(...e.errors);
    return undefined;
  }
}

function problem(message: string, field: string[]): UserErrorData {
  return { code: ErrorCode.INVALID_INPUT, message, field };
}

function invalid(message: string, field: string[]): UserFacingError {
  return new UserFacingError(problem(message, field));
}

function optionalText(value: string | null | undefined, field: string[], maxLength: number): string | null {
  const trimmed = value?.trim() ?? "";
  if (trimmed.length > maxLength)
    throw invalid(`${field.at(-1)} must be at most ${maxLength} characters`, field);
  return trimmed.length > 0 ? trimmed : null;
}

/** Attributes are a flat map of short texts ({"Color": "Navy", "Size": "M"}). */
function attributesOf(
  value: Record<string, unknown> | null | undefined,
  field: string[],
): Record<string, string> {
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw invalid("attributes must be an object", field);
  const entries = Object.entries(value);
  if (entries.length > MAX_ATTRIBUTES) throw invalid(`At most ${MAX_ATTRIBUTES} attributes`, field);
  const out: Record<string, string> = {};
  for (const [rawKey, raw] of entries) {
    const key = rawKey.trim();
    if (key.length === 0 || key.length > 50)
      throw invalid("Attribute names must be 1 to 50 characters", field);
    if (typeof raw !== "string" || raw.trim().length === 0 || raw.length > 200) {
      throw invalid(`Attribute "${key}" must be a text of 1 to 200 characters`, [...field, key]);
    }
    out[key] = raw.trim();
  }
  return out;
}

function validateVariant(v: VariantCreateInput, field: string[], errors: UserErrorData[]): ValidVariant {
  const price = v.price;
  return {
    sku: collect(errors, () => requireText(v.sku, [...field, "sku"], 64)) ?? "",
    title: collect(errors, () => requireText(v.title, [...field, "title"], 200)) ?? "",
    attributes: collect(errors, () => attributesOf(v.attributes, [...field, "attributes"])) ?? {},
    priceOverride:
      price === null || price === undefined
        ? null
        : (collect(errors, () => requireInt(price, [...field, "price"], 0, MAX_PRICE)) ?? null),
    stockOnHand:
      collect(errors, () => requireInt(v.stockOnHand ?? 0, [...field, "stockOnHand"], 0, MAX_STOCK_DELTA)) ??
      0,
    lowStockThreshold:
      collect(errors, () =>
        requireInt(v.lowStockThreshold ?? 0, [...field, "lowStockThreshold"], 0, MAX_STOCK_DELTA),
      ) ?? 0,
  };
}

/** Validates a whole product; throws one UserFacingError listing every problem. */
export function validateProductInput(input: ProductCreateInput): ValidProduct {
  const errors: UserErrorData[] = [];
  const root = ["input"];
  const name = collect(errors, () => requireText(input.name, [...root, "name"], 200)) ?? "";
  const description =
    collect(errors, () => optionalText(input.description, [...root, "description"], 5000)) ?? null;
  const basePrice =
    collect(errors, () => requireInt(input.basePrice, [...root, "basePrice"], 0, MAX_PRICE)) ?? 0;
  const status = input.status ?? "ACTIVE";
  if (!PRODUCT_STATUSES.includes(status)) errors.push(problem("Unknown status", [...root, "status"]));
  const variants: ValidVariant[] = [];
  if (input.variants.length === 0 || input.variants.length > MAX_VARIANTS) {
    errors.push(problem(`A product needs 1 to ${MAX_VARIANTS} variants`, [...root, "variants"]));
  }
  const firstIndexOfSku = new Map<string, number>();
  input.variants.slice(0, MAX_VARIANTS).forEach((v, i) => {
    const field = [...root, "variants", String(i)];
    const valid = validateVariant(v, field, errors);
    if (valid.sku) {
      const first = firstIndexOfSku.get(valid.sku);
      if (first === undefined) firstIndexOfSku.set(valid.sku, i);
      else errors.push(problem(`SKU "${valid.sku}" is also used by variant ${first}`, [...field, "sku"]));
    }
    variants.push(valid);
  });
  if (errors.length > 0) throw new UserFacingError(errors);
  return { name, description, basePrice, status, variants };
}

/** A stock adjustment: a non-zero whole number of units, bounded so one typo cannot wreck the count. */
export function validateStockDelta(delta: number): number {
  requireInt(delta, ["delta"], -MAX_STOCK_DELTA, MAX_STOCK_DELTA);
  if (delta === 0) throw invalid("delta must not be 0", ["delta"]);
  return delta;
}

export function adjustmentReason(reason: string | null | undefined): string {
  return optionalText(reason, ["reason"], 200) ?? "manual adjustment";
}
