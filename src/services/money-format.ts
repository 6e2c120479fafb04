/**
 * Money for people to read: integer minor units shown in the currency's own format. How many minor
 * units a currency has comes from Intl (CLDR), so JPY and KRW amounts are whole units (¥1,500 is 1500),
 * USD and EUR have 2 decimals and KWD or BHD 3. The amount is handed to Intl as a decimal string,
 * never divided as a float, so any safe integer is shown exactly.
 */

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
  return formatFor(currency, "en-US").resolvedOptions().maximumFractionDigits ?? 2;
}

/** `1999, "USD"` -> "$19.99"; `1500, "JPY"` -> "¥1,500". */
export function formatMoney(amount: number, currency: string, locale = "en-US"): string {
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
