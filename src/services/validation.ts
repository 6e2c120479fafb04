/** Small input checks shared by services; each failure is an INVALID_INPUT userError naming the field. */
import { ErrorCode, userError } from "./errors.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * Ids are opaque to clients but are uuids inside. A malformed id cannot name anything, so it is
 * reported as NOT_FOUND (the same answer as a foreign or unknown id: no existence leak).
 */
export function parseId(value: string, field: string[], what = "Item"): string {
  if (!isUuid(value)) throw userError(ErrorCode.NOT_FOUND, `${what} not found`, { field });
  return value.toLowerCase();
}

export function requireInt(
  value: number,
  field: string[],
  min: number,
  max: number,
  label = field.at(-1),
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw userError(ErrorCode.INVALID_INPUT, `${label} must be an integer from ${min} to ${max}`, { field });
  }
  return value;
}

export function requireText(value: string, field: string[], maxLength: number, label = field.at(-1)): string {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > maxLength) {
    throw userError(ErrorCode.INVALID_INPUT, `${label} must be 1 to ${maxLength} characters`, { field });
  }
  return trimmed;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normalizeEmail(value: string, field: string[]): string {
  const email = value.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) {
    throw userError(ErrorCode.INVALID_INPUT, "Enter a valid email address", { field });
  }
  return email;
}

/**
 * Instants a client may send: 1970 to 9999. Outside it, PostgreSQL cannot store some (year 0, negative
 * years) and JavaScript prints others in a form PostgreSQL cannot read (+275760), and no commerce date
 * is meant.
 */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export function isSaneInstant(date: Date): boolean {
  const t = date.getTime();
  return Number.isFinite(t) && t >= EARLIEST && t <= LATEST;
}

export function requireSaneInstant(date: Date, field: string[]): Date {
  if (!isSaneInstant(date)) {
    throw userError(ErrorCode.INVALID_INPUT, `${field.at(-1)} must be a date between 1970 and 9999`, {
      field,
    });
  }
  return date;
}
