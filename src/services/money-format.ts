/**
 * Money for people to read: integer minor units shown in the currency's own format. How many minor
 * units a currency has comes from Intl (CLDR), so JPY and KRW amounts are whole units (¥1,500 is 1500),
 * USD and EUR have 2 decimals and KWD or BHD 3. The amount is handed to Intl as a decimal string,
 * never divided as a float, so any safe integer is shown exactly.
 */

/** The locale of a store that has not chosen one. */
export const DEFAULT_LOCALE = "en-US";

/** Longer than any tag a store needs (BCP 47 asks implementations to support at least 35 characters). */
const MAX_LOCALE_LENGTH = 64;

/**
 * The canonical form of a BCP 47 language tag ("en-gb" -> "en-GB"), or null when the tag is malformed
 * or Intl has no number formats for its language (it would silently fall back to another locale).
 */
export function canonicalLocale(tag: string): string | null {
  const trimmed = tag.trim();
  if (trimmed === "" || trimmed.length > MAX_LOCALE_LENGTH) return null;
  let canonical: string | undefined;
  try {
    [canonical] = Intl.getCanonicalLocales(trimmed);
  } catch {
    return null;
  }
  if (!canonical || Intl.NumberFormat.supportedLocalesOf([canonical]).length === 0) return null;
  return canonical;
}

const formats = new Map<string, Intl.NumberFormat>();

function formatFor(currency: string, locale: string): Intl.NumberFormat {
  const key = `${locale}|${currency}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, { style: "currency", currency });
    formats.set(key, format);
  }
  return format;
}

/** Digits after the decimal point in `currency`'s minor unit (0 for JPY, 2 for USD, 3 for KWD). */
export function minorUnitDigits(currency: string): number {
  return formatFor(currency, DEFAULT_LOCALE).resolvedOptions().maximumFractionDigits ?? 2;
}

/** `1999, "USD"` -> "$19.99"; `1500, "JPY"` -> "¥1,500". */
export function formatMoney(amount: number, currency: string, locale = DEFAULT_LOCALE): string {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`amount must be a safe integer, got ${amount}`);
  const format = formatFor(currency, locale);
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  const negative = amount < 0;
  const units = String(Math.abs(amount)).padStart(digits + 1, "0");
  const decimal =
    digits === 0 ? units : `${units.slice(0, units.length - digits)}.${units.slice(units.length - digits)}`;
  // Intl.NumberFormat formats decimal strings exactly (ES2023 Intl.NumberFormat v3, Node >= 19).
  return format.format((negative ? `-${decimal}` : decimal) as unknown as number);
}

/** Writes amounts of one currency for one locale: what a message that names money is given. */
export type MoneyText = (amount: number) => string;

export function moneyText(currency: string, locale: string = DEFAULT_LOCALE): MoneyText {
  return (amount) => formatMoney(amount, currency, locale);
}
