/**
 * Checks a staff discount create/update before it is written, so the pricing rules never meet a code
 * they cannot interpret. Returns every problem at once (empty = valid); the service turns each into an
 * INVALID_INPUT userError with `field` = ["input", problem.field].
 */
import type { DiscountType } from "./types.js";

export interface DiscountInputProblem {
  field: string;
  message: string;
}

export interface DiscountInputCandidate {
  code?: string;
  type: DiscountType;
  value: number;
  buyQty?: number | null;
  getQty?: number | null;
  minOrderAmount?: number | null;
  maxUses?: number | null;
  perCustomerLimit?: number | null;
  validFrom?: Date | null;
  validUntil?: Date | null;
  applicableProductIds?: readonly string[] | null;
}

/** Columns are PostgreSQL `integer`. */
const MAX_INT4 = 2_147_483_647;
const CODE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function validateDiscountInput(input: DiscountInputCandidate): DiscountInputProblem[] {
  const problems: DiscountInputProblem[] = [];
  const add = (field: string, message: string) => problems.push({ field, message });
  const intIn = (field: string, value: number, min: number, max: number, what: string) => {
    if (!Number.isInteger(value) || value < min || value > max)
      add(field, `${what} must be an integer from ${min} to ${max}`);
  };

  if (input.code !== undefined && !CODE.test(input.code.trim())) {
    add("code", "Code must be 1 to 64 letters, digits, '-' or '_', starting with a letter or digit");
  }

  switch (input.type) {
    case "PERCENTAGE":
      intIn("value", input.value, 1, 100, "Percentage");
      break;
    case "FIXED_AMOUNT":
      intIn("value", input.value, 1, MAX_INT4, "Amount off (minor units)");
      break;
    case "FREE_SHIPPING":
      if (input.value !== 0) add("value", "Value must be 0 for FREE_SHIPPING (it is not used)");
      break;
    case "BUY_X_GET_Y":
      intIn("value", input.value, 1, 100, "Percent off the free items (100 = free)");
      break;
    default:
      add("type", "Unknown discount type");
  }

  const isBuyXGetY = input.type === "BUY_X_GET_Y";
  for (const [field, value, label] of [
    ["buyQty", input.buyQty, "Buy quantity (X)"],
    ["getQty", input.getQty, "Get quantity (Y)"],
  ] as const) {
    if (isBuyXGetY) {
      if (value === undefined || value === null) add(field, `${label} is required for BUY_X_GET_Y`);
      else intIn(field, value, 1, 10_000, label);
    } else if (value !== undefined && value !== null) {
      add(field, `${label} is only used by BUY_X_GET_Y`);
    }
  }

  if (input.minOrderAmount != null)
    intIn("minOrderAmount", input.minOrderAmount, 1, MAX_INT4, "Minimum order");
  if (input.maxUses != null) intIn("maxUses", input.maxUses, 1, MAX_INT4, "Maximum uses");
  if (input.perCustomerLimit != null) {
    intIn("perCustomerLimit", input.perCustomerLimit, 1, MAX_INT4, "Uses per customer");
  }

  const from = input.validFrom ?? null;
  const until = input.validUntil ?? null;
  if (from !== null && Number.isNaN(from.getTime())) add("validFrom", "Valid from is not a valid date");
  if (until !== null && Number.isNaN(until.getTime())) add("validUntil", "Valid until is not a valid date");
  if (from !== null && until !== null && !(until.getTime() > from.getTime())) {
    add("validUntil", "Valid until must be after valid from");
  }

  if (input.applicableProductIds != null && input.applicableProductIds.length === 0) {
    add("applicableProductIds", "List at least one product, or leave it empty (null) for every product");
  }
  return problems;
}
