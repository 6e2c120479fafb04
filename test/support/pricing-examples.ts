/**
 * The worked examples of README.md's "Pricing rules" section, parsed so a test can run each one
 * through the API: the README is the test's input, so the two cannot drift apart.
 *
 * An example is a fenced block with the info string `pricing-example`, one statement per line:
 *
 *   product NAME PRICE                   a product with one variant, SKU = NAME, 100 in stock
 *   code CODE TYPE [VALUE] [buy=N get=N] [min=PRICE] [combinable] [only=NAME,...]
 *                                        a discount code (VALUE: "10%" or a PRICE; none for FREE_SHIPPING)
 *   shipping PRICE [free-over=PRICE]     a flat-rate method serving US and CA
 *   tax COUNTRY[/REGION] RATE%           a tax rate, e.g. "tax US/CA 7.25%"
 *   add NAME xN[, NAME xN]               cartCreate (the first time), else cartLinesAdd
 *   update NAME xN                       cartLinesUpdate (x0 removes the line)
 *   apply CODE / unapply CODE            cartDiscountCodeApply / cartDiscountCodeRemove, CODE as typed
 *   reprice NAME PRICE                   staff: variantPriceUpdate
 *   address COUNTRY [REGION]             cartShippingAddressUpdate, as typed (case included)
 *   ship                                 cartShippingMethodSelect of the example's method
 *   checkout [expected=PRICE] [accept]   checkoutComplete (with an email and a test card)
 *   expect error CODE [required=PRICE] ["message"]   what the previous step refused, exactly
 *   expect cost FIELD=PRICE ...          subtotal, discount, shipping, tax, shippingTax, total
 *   expect line NAME FIELD=... ...       qty=N, unit, discount, tax, total (PRICEs)
 *   expect code CODE amount=PRICE | expect code CODE inapplicable REASON [required=PRICE]
 *   expect warning CODE "message"        the cart shows this warning
 *   expect codes CODE,CODE               the codes on the cart, in application order
 *   expect order FIELD=PRICE ...         the cost of the order the last checkout placed
 *
 * PRICE is written as the en-US store shows it ("$12.34"): the test checks both the amount in cents
 * and `Money.formatted`. A step that gets userErrors (a staff `code` too) must be followed by
 * `expect error`.
 */

export type CostField = "subtotal" | "discount" | "shipping" | "tax" | "shippingTax" | "total";
export type LineField = "qty" | "unit" | "discount" | "tax" | "total";

/** An amount as written in the README: cents and the text Money.formatted must show. */
export interface Price {
  amount: number;
  text: string;
}

export type Statement =
  | { kind: "product"; name: string; price: Price }
  | {
      kind: "code";
      code: string;
      type: "PERCENTAGE" | "FIXED_AMOUNT" | "FREE_SHIPPING" | "BUY_X_GET_Y";
      value: number;
      buyQty: number | null;
      getQty: number | null;
      minOrder: Price | null;
      combinable: boolean;
      only: string[] | null;
    }
  | { kind: "shipping"; rate: Price; freeOver: Price | null }
  | { kind: "tax"; country: string; region: string | null; rateBps: number }
  | { kind: "add"; lines: { name: string; quantity: number }[] }
  | { kind: "update"; name: string; quantity: number }
  | { kind: "apply"; code: string }
  | { kind: "unapply"; code: string }
  | { kind: "reprice"; name: string; price: Price }
  | { kind: "address"; country: string; region: string | null }
  | { kind: "ship" }
  | { kind: "checkout"; expectedTotal: Price | null; accept: boolean }
  | { kind: "expectError"; code: string; required: Price | null; message: string | null }
  | { kind: "expectCost"; fields: Partial<Record<CostField, Price>> }
  | { kind: "expectLine"; name: string; qty: number | null; prices: Partial<Record<LineField, Price>> }
  | { kind: "expectCode"; code: string; amount: Price }
  | { kind: "expectInapplicable"; code: string; reason: string; required: Price | null }
  | { kind: "expectWarning"; code: string; message: string }
  | { kind: "expectCodes"; codes: string[] }
  | { kind: "expectOrder"; fields: Partial<Record<CostField, Price>> };

export interface PricingExample {
  /** The `###` heading the example sits under (numbered when a rule has several). */
  title: string;
  /** 1-based line of the README where the block starts, for failure messages. */
  line: number;
  statements: { text: string; line: number; statement: Statement }[];
}

const PRICE = /^\$(\d{1,3}(?:,\d{3})*)\.(\d{2})$/;
const NAME = /^[A-Z][A-Z0-9-]*$/;
const CODE_TYPES = ["PERCENTAGE", "FIXED_AMOUNT", "FREE_SHIPPING", "BUY_X_GET_Y"] as const;
const COST_FIELDS: readonly CostField[] = ["subtotal", "discount", "shipping", "tax", "shippingTax", "total"];
const LINE_FIELDS: readonly LineField[] = ["qty", "unit", "discount", "tax", "total"];

export function parsePrice(text: string): Price {
  const m = PRICE.exec(text);
  if (!m) throw new Error(`"${text}" is not a price like $12.34`);
  return { amount: Number((m[1] ?? "").replaceAll(",", "")) * 100 + Number(m[2]), text };
}

function parsePercent(text: string, decimals: number): number {
  const m = /^(\d+)(?:\.(\d+))?%$/.exec(text);
  if (!m || (m[2]?.length ?? 0) > decimals) throw new Error(`"${text}" is not a percentage like 10%`);
  return Number(m[1]) * 10 ** decimals + Number((m[2] ?? "").padEnd(decimals, "0") || 0);
}

function positiveInt(text: string | undefined, what: string): number {
  if (!text || !/^\d+$/.test(text) || Number(text) < 1) throw new Error(`${what} must be a positive integer`);
  return Number(text);
}

function name(text: string | undefined): string {
  if (!text || !NAME.test(text)) throw new Error(`"${text}" is not a NAME (upper case, digits, '-')`);
  return text;
}

/** `key=value` options and bare flags after the positional words. */
function options(words: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf("=");
    out.set(eq === -1 ? w : w.slice(0, eq), eq === -1 ? "" : w.slice(eq + 1));
  }
  return out;
}

function rejectUnknown(opts: Map<string, string>, allowed: readonly string[]): void {
  for (const key of opts.keys()) {
    if (!allowed.includes(key)) throw new Error(`unknown option "${key}" (allowed: ${allowed.join(", ")})`);
  }
}

/** Splits off a trailing "quoted message", which may hold spaces. */
function quoted(rest: string): { words: string[]; message: string | null } {
  const q = rest.indexOf('"');
  if (q === -1) return { words: rest.split(/\s+/).filter(Boolean), message: null };
  if (!rest.endsWith('"') || rest.length - q < 2) throw new Error("a message must be in double quotes");
  return { words: rest.slice(0, q).split(/\s+/).filter(Boolean), message: rest.slice(q + 1, -1) };
}

function parseQuantities(text: string): { name: string; quantity: number }[] {
  return text.split(",").map((part) => {
    const m = /^\s*(\S+)\s+x(\d+)\s*$/.exec(part);
    if (!m) throw new Error(`"${part.trim()}" is not NAME xN`);
    return { name: name(m[1]), quantity: Number(m[2]) };
  });
}

export function parseStatement(text: string): Statement {
  const [verb = "", ...rest] = text.trim().split(/\s+/);
  const restText = text.trim().slice(verb.length).trim();
  switch (verb) {
    case "product": {
      if (rest.length !== 2) throw new Error("product NAME PRICE");
      return { kind: "product", name: name(rest[0]), price: parsePrice(rest[1] ?? "") };
    }
    case "code": {
      const [code, type, ...more] = rest;
      if (!code || !/^[A-Z0-9_-]+$/i.test(code)) throw new Error("code CODE TYPE ...");
      const t = CODE_TYPES.find((c) => c === type);
      if (!t) throw new Error(`type must be one of ${CODE_TYPES.join(", ")}`);
      let value = 0;
      if (t !== "FREE_SHIPPING") {
        const v = more.shift() ?? "";
        value = t === "FIXED_AMOUNT" ? parsePrice(v).amount : parsePercent(v, 0);
      }
      const opts = options(more);
      rejectUnknown(opts, ["buy", "get", "min", "combinable", "only"]);
      const isBxGy = t === "BUY_X_GET_Y";
      if (isBxGy !== (opts.has("buy") && opts.has("get")))
        throw new Error("buy= and get= go with BUY_X_GET_Y");
      return {
        kind: "code",
        code,
        type: t,
        value,
        buyQty: isBxGy ? positiveInt(opts.get("buy"), "buy") : null,
        getQty: isBxGy ? positiveInt(opts.get("get"), "get") : null,
        minOrder: opts.has("min") ? parsePrice(opts.get("min") ?? "") : null,
        combinable: opts.has("combinable"),
        only: opts.has("only") ? (opts.get("only") ?? "").split(",").map(name) : null,
      };
    }
    case "shipping": {
      const [rate, ...more] = rest;
      const opts = options(more);
      rejectUnknown(opts, ["free-over"]);
      return {
        kind: "shipping",
        rate: parsePrice(rate ?? ""),
        freeOver: opts.has("free-over") ? parsePrice(opts.get("free-over") ?? "") : null,
      };
    }
    case "tax": {
      const [where = "", rate = ""] = rest;
      if (rest.length !== 2) throw new Error("tax COUNTRY[/REGION] RATE%");
      const [country = "", region] = where.split("/");
      return { kind: "tax", country, region: region ?? null, rateBps: parsePercent(rate, 2) };
    }
    case "add":
      return { kind: "add", lines: parseQuantities(restText) };
    case "update": {
      const [line] = parseQuantities(restText);
      if (!line || restText.includes(",")) throw new Error("update NAME xN");
      return { kind: "update", name: line.name, quantity: line.quantity };
    }
    case "apply":
    case "unapply":
      if (rest.length !== 1 || !rest[0]) throw new Error(`${verb} CODE`);
      return { kind: verb, code: rest[0] };
    case "reprice":
      if (rest.length !== 2) throw new Error("reprice NAME PRICE");
      return { kind: "reprice", name: name(rest[0]), price: parsePrice(rest[1] ?? "") };
    case "address":
      if (rest.length < 1 || rest.length > 2) throw new Error("address COUNTRY [REGION]");
      return { kind: "address", country: rest[0] ?? "", region: rest[1] ?? null };
    case "ship":
      if (rest.length) throw new Error("ship takes nothing");
      return { kind: "ship" };
    case "checkout": {
      const opts = options(rest);
      rejectUnknown(opts, ["expected", "accept"]);
      const expected = opts.get("expected");
      return {
        kind: "checkout",
        expectedTotal: expected === undefined ? null : parsePrice(expected),
        accept: opts.has("accept"),
      };
    }
    case "expect":
      return parseExpectation(rest[0] ?? "", restText.slice((rest[0] ?? "").length).trim());
    default:
      throw new Error(`unknown statement "${verb}"`);
  }
}

function parseExpectation(what: string, restText: string): Statement {
  switch (what) {
    case "error": {
      const { words, message } = quoted(restText);
      const [code, ...more] = words;
      if (!code) throw new Error("expect error CODE");
      const opts = options(more);
      rejectUnknown(opts, ["required"]);
      const required = opts.get("required");
      return {
        kind: "expectError",
        code,
        required: required === undefined ? null : parsePrice(required),
        message,
      };
    }
    case "cost":
    case "order": {
      const opts = options(restText.split(/\s+/).filter(Boolean));
      rejectUnknown(opts, COST_FIELDS);
      if (opts.size === 0) throw new Error(`expect ${what} FIELD=PRICE ...`);
      const fields: Partial<Record<CostField, Price>> = {};
      for (const [k, v] of opts) fields[k as CostField] = parsePrice(v);
      return { kind: what === "cost" ? "expectCost" : "expectOrder", fields };
    }
    case "line": {
      const [lineName, ...more] = restText.split(/\s+/).filter(Boolean);
      const opts = options(more);
      rejectUnknown(opts, LINE_FIELDS);
      if (opts.size === 0) throw new Error("expect line NAME FIELD=... ...");
      const prices: Partial<Record<LineField, Price>> = {};
      for (const [k, v] of opts) if (k !== "qty") prices[k as LineField] = parsePrice(v);
      const qty = opts.get("qty");
      return {
        kind: "expectLine",
        name: name(lineName),
        qty: qty === undefined ? null : Number(qty),
        prices,
      };
    }
    case "code": {
      const [code, ...more] = restText.split(/\s+/).filter(Boolean);
      if (!code) throw new Error("expect code CODE ...");
      if (more[0] === "inapplicable") {
        const reason = more[1];
        if (!reason) throw new Error("expect code CODE inapplicable REASON");
        const opts = options(more.slice(2));
        rejectUnknown(opts, ["required"]);
        const required = opts.get("required");
        return {
          kind: "expectInapplicable",
          code,
          reason,
          required: required === undefined ? null : parsePrice(required),
        };
      }
      const opts = options(more);
      rejectUnknown(opts, ["amount"]);
      if (!opts.has("amount")) throw new Error("expect code CODE amount=PRICE");
      return { kind: "expectCode", code, amount: parsePrice(opts.get("amount") ?? "") };
    }
    case "warning": {
      const { words, message } = quoted(restText);
      if (words.length !== 1 || message === null) throw new Error('expect warning CODE "message"');
      return { kind: "expectWarning", code: words[0] ?? "", message };
    }
    case "codes":
      return { kind: "expectCodes", codes: restText.split(",").map((c) => c.trim()) };
    default:
      throw new Error(`unknown expectation "${what}"`);
  }
}

/**
 * The examples of the section that starts with `heading` (up to the next `## `). Throws, naming the
 * README line, on any statement it cannot read.
 */
export function parsePricingExamples(markdown: string, heading = "## Pricing rules"): PricingExample[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start === -1) throw new Error(`README has no "${heading}" section`);
  const examples: PricingExample[] = [];
  let title = "";
  let sameTitle = 0;
  let current: PricingExample | null = null;
  for (let i = start + 1; i < lines.length; i++) {
    const text = lines[i] ?? "";
    if (current === null && text.startsWith("## ")) break;
    if (current === null && text.startsWith("### ")) {
      title = text.slice(4).trim();
      sameTitle = 0;
    } else if (current === null && text.trim() === "```pricing-example") {
      sameTitle++;
      current = { title: sameTitle > 1 ? `${title} (${sameTitle})` : title, line: i + 1, statements: [] };
    } else if (current !== null && text.trim() === "```") {
      examples.push(current);
      current = null;
    } else if (current !== null && text.trim() !== "" && !text.trim().startsWith("#")) {
      try {
        current.statements.push({ text: text.trim(), line: i + 1, statement: parseStatement(text) });
      } catch (e) {
        throw new Error(`README.md:${i + 1}: ${(e as Error).message}\n  ${text.trim()}`);
      }
    }
  }
  if (current !== null) throw new Error(`README.md:${current.line}: unterminated pricing-example block`);
  return examples;
}

/** The `###` headings of the section: every rule must carry at least one example. */
export function ruleHeadings(markdown: string, heading = "## Pricing rules"): string[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  const out: string[] = [];
  let inFence = false;
  for (const text of lines.slice(start + 1)) {
    if (text.trim().startsWith("```")) inFence = !inFence;
    if (inFence) continue;
    if (text.startsWith("## ")) break;
    if (text.startsWith("### ")) out.push(text.slice(4).trim());
  }
  return out;
}
