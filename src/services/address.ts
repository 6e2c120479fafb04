/**
 * Postal address validation. Country must be an ISO 3166-1 alpha-2 code; required fields must be
 * present; postal codes are checked for shape where the country's format is well known.
 */
import type { AddressJson } from "../db/schema.js";
import { ErrorCode, type UserErrorData, UserFacingError } from "./errors.js";

// ISO 3166-1 alpha-2, officially assigned codes.
const ISO_COUNTRIES = new Set(
  (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW " +
    "BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI " +
    "FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN " +
    "IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME " +
    "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF " +
    "PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV " +
    "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE " +
    "YT ZA ZM ZW"
  ).split(" "),
);

export function isIsoCountry(code: string): boolean {
  return ISO_COUNTRIES.has(code);
}

/** Shapes for countries whose formats are stable and common; elsewhere any 2..12 characters of [A-Z0-9 -]. */
const POSTAL_FORMATS: Record<string, RegExp> = {
  US: /^\d{5}(-\d{4})?$/,
  CA: /^[A-Z]\d[A-Z] ?\d[A-Z]\d$/,
  GB: /^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$/,
  DE: /^\d{5}$/,
  FR: /^\d{5}$/,
  NL: /^\d{4} ?[A-Z]{2}$/,
  AU: /^\d{4}$/,
};
const GENERIC_POSTAL = /^[A-Z0-9][A-Z0-9 -]{0,10}[A-Z0-9]$|^[A-Z0-9]$/;

/** What clients send: the stored shape, before trimming and normalising. */
export type AddressInputShape = AddressJson;

const MAX_FIELD = 200;

/** Returns the normalised address, or throws every problem at once as INVALID_INPUT userErrors. */
export function validateAddress(input: AddressInputShape, field: string[] = ["address"]): AddressJson {
  const errors: UserErrorData[] = [];
  const problem = (name: string, message: string) =>
    errors.push({ code: ErrorCode.INVALID_INPUT, message, field: [...field, name] });
  const required = (name: keyof AddressInputShape, label: string): string => {
    const value = (input[name] ?? "").trim();
    if (!value) problem(name, `${label} is required`);
    else if (value.length > MAX_FIELD) problem(name, `${label} must be at most ${MAX_FIELD} characters`);
    return value;
  };
  const optional = (name: keyof AddressInputShape, label: string): string | null => {
    const value = (input[name] ?? "").trim();
    if (value.length > MAX_FIELD) problem(name, `${label} must be at most ${MAX_FIELD} characters`);
    return value || null;
  };
  const firstName = required("firstName", "First name");
  const lastName = required("lastName", "Last name");
  const line1 = required("line1", "Address line 1");
  const line2 = optional("line2", "Address line 2");
  const city = required("city", "City");
  const region = optional("region", "Region")?.toUpperCase() ?? null;
  const phone = optional("phone", "Phone");
  const country = (input.country ?? "").trim().toUpperCase();
  if (!isIsoCountry(country)) problem("country", "Country must be an ISO 3166-1 alpha-2 code, e.g. US or DE");
  const postalCode = (input.postalCode ?? "").trim().toUpperCase();
  if (!postalCode) problem("postalCode", "Postal code is required");
  else if (!(POSTAL_FORMATS[country] ?? GENERIC_POSTAL).test(postalCode)) {
    problem("postalCode", `"${postalCode}" is not a valid postal code for ${country || "this country"}`);
  }
  if (phone && !/^\+?[0-9 ()./-]{4,30}$/.test(phone))
    problem("phone", "Phone may hold digits, spaces and + ( ) . / - only");
  if (errors.length) throw new UserFacingError(errors);
  return { firstName, lastName, line1, line2, city, region, postalCode, country, phone };
}
