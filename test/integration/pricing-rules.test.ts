/**
 * Runs every worked example of README.md's "Pricing rules" section through the GraphQL API and checks
 * the README's figures (amounts and their formatted text) and messages. The examples are read from the
 * README itself (test/support/pricing-examples.ts describes their statements), each in a store of its
 * own: change a rule or a figure and this fails.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { StoreRef } from "../../src/services/context.js";
import { createStaff, createStore, type TestStaff, unique } from "../support/fixtures.js";
import {
  type Price,
  type PricingExample,
  parsePricingExamples,
  parseStatement,
  ruleHeadings,
  type Statement,
} from "../support/pricing-examples.js";
import { type TestApp, useTestApp } from "../support/test-app.js";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const examples = parsePricingExamples(README);

const t = useTestApp();

interface MoneyJson {
  amount: number;
  formatted: string;
}
interface UserErrorJson {
  code: string;
  message: string;
  requiredAmount: MoneyJson | null;
}
interface CartJson {
  id: string;
  lines: {
    id: string;
    quantity: number;
    unitPrice: MoneyJson;
    discountAllocation: MoneyJson;
    tax: MoneyJson;
    total: MoneyJson;
    variant: { sku: string };
  }[];
  cost: Record<"subtotal" | "discount" | "shipping" | "tax" | "shippingTax" | "total", MoneyJson>;
  warnings: { code: string; message: string }[];
  discountCodes: {
    code: string;
    applicable: boolean;
    reason: string | null;
    amount: MoneyJson;
    requiredAmount: MoneyJson | null;
  }[];
}

const M = "{ amount formatted }";
const CART = `id
  lines { id quantity unitPrice ${M} discountAllocation ${M} tax ${M} total ${M} variant { sku } }
  cost { subtotal ${M} discount ${M} shipping ${M} tax ${M} shippingTax ${M} total ${M} }
  warnings { code message }
  discountCodes { code applicable reason amount ${M} requiredAmount ${M} }`;
const PAYLOAD = `cart { id } userErrors { code message requiredAmount ${M} }`;

/** What one example has made so far, and how it talks to the API. */
class ExampleRun {
  private staff!: TestStaff;
  private guestToken = "";
  private cartId: string | null = null;
  private methodId: string | null = null;
  private readonly variants = new Map<string, string>();
  private readonly products = new Map<string, string>();
  private readonly lineIds = new Map<string, string>();
  /** userErrors of the last step, until an `expect error` reads them. */
  private pendingErrors: UserErrorJson[] = [];
  private order: { cost: CartJson["cost"] } | null = null;

  constructor(
    private readonly app: TestApp,
    private readonly store: StoreRef,
  ) {}

  async start(): Promise<void> {
    this.staff = await createStaff(this.app, this.store);
    const data = await this.gql<{ guestSessionCreate: { token: string } }>(
      "mutation { guestSessionCreate { token } }",
      {},
    );
    this.guestToken = data.guestSessionCreate.token;
  }

  private async gql<T>(query: string, variables: Record<string, unknown>, token?: string): Promise<T> {
    return this.app.ok<T>(query, variables, { store: this.store.handle, token });
  }

  private staffDo<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    return this.gql<T>(query, variables, this.staff.token);
  }

  private variant(name: string): string {
    const id = this.variants.get(name);
    if (!id) throw new Error(`no product ${name} in this example`);
    return id;
  }

  /** Runs a shopper mutation; its userErrors wait for an `expect error`. */
  private async shop(field: string, args: string, vars: Record<string, unknown>): Promise<void> {
    const data = await this.gql<Record<string, { cart: { id: string } | null; userErrors: UserErrorJson[] }>>(
      `mutation M(${args}) { ${field}(${Object.keys(vars)
        .map((k) => `${k}: $${k}`)
        .join(", ")}) { ${PAYLOAD} } }`,
      vars,
      this.guestToken,
    );
    const payload = data[field];
    if (!payload) throw new Error(`no ${field} payload`);
    if (payload.cart && !this.cartId) this.cartId = payload.cart.id;
    this.pendingErrors = payload.userErrors;
  }

  private async staffOk(field: string, query: string, vars: Record<string, unknown>): Promise<unknown> {
    const data = await this.staffDo<Record<string, Record<string, unknown> & { userErrors: unknown[] }>>(
      query,
      vars,
    );
    const payload = data[field];
    expect(payload?.userErrors, `${field} userErrors`).toEqual([]);
    return payload;
  }

  async cart(): Promise<CartJson> {
    if (!this.cartId) throw new Error("the example has no cart yet");
    const data = await this.gql<{ cart: CartJson | null }>(
      `query C($id: ID!) { cart(id: $id) { ${CART} } }`,
      { id: this.cartId },
      this.guestToken,
    );
    if (!data.cart) throw new Error("cart not found");
    // Remembered for `update`: one line per variant in these examples.
    for (const line of data.cart.lines) this.lineIds.set(line.variant.sku, line.id);
    return data.cart;
  }

  async run(s: Statement): Promise<void> {
    if (s.kind !== "expectError" && this.pendingErrors.length) {
      throw new Error(`the previous step was refused: ${JSON.stringify(this.pendingErrors)}`);
    }
    switch (s.kind) {
      case "product": {
        const p = (await this.staffOk(
          "productCreate",
          `mutation P($input: ProductCreateInput!) { productCreate(input: $input) {
            product { id variants { id sku } } userErrors { code message } } }`,
          {
            input: {
              name: s.name,
              basePrice: s.price.amount,
              variants: [{ sku: s.name, title: "Default", stockOnHand: 100 }],
            },
          },
        )) as { product: { id: string; variants: { id: string }[] } };
        this.products.set(s.name, p.product.id);
        this.variants.set(s.name, p.product.variants[0]?.id ?? "");
        return;
      }
      case "code": {
        const data = await this.staffDo<{ discountCreate: { userErrors: UserErrorJson[] } }>(
          `mutation D($input: DiscountInput!) { discountCreate(input: $input) {
            discount { id } userErrors { code message requiredAmount ${M} } } }`,
          {
            input: {
              code: s.code,
              type: s.type,
              value: s.value,
              buyQty: s.buyQty,
              getQty: s.getQty,
              minOrderAmount: s.minOrder?.amount ?? null,
              combinable: s.combinable,
              applicableProductIds: s.only?.map((n) => {
                const id = this.products.get(n);
                if (!id) throw new Error(`no product ${n}`);
                return id;
              }),
            },
          },
        );
        this.pendingErrors = data.discountCreate.userErrors;
        return;
      }
      case "shipping": {
        const m = (await this.staffOk(
          "shippingMethodCreate",
          `mutation S($input: ShippingMethodInput!) { shippingMethodCreate(input: $input) {
            shippingMethod { id } userErrors { code message field } } }`,
          {
            input: {
              name: `Ground ${unique()}`,
              countries: ["US", "CA"],
              rate: s.rate.amount,
              freeOver: s.freeOver?.amount ?? null,
            },
          },
        )) as { shippingMethod: { id: string } };
        this.methodId = m.shippingMethod.id;
        return;
      }
      case "tax":
        await this.staffOk(
          "taxRateUpsert",
          `mutation T($input: TaxRateInput!) { taxRateUpsert(input: $input) { taxRate { id } userErrors { code message field } } }`,
          { input: { country: s.country, region: s.region, rateBps: s.rateBps } },
        );
        return;
      case "add": {
        const lines = s.lines.map((l) => ({ variantId: this.variant(l.name), quantity: l.quantity }));
        if (this.cartId) {
          await this.shop("cartLinesAdd", "$cartId: ID!, $lines: [CartLineInput!]!", {
            cartId: this.cartId,
            lines,
          });
        } else {
          await this.shop("cartCreate", "$input: CartCreateInput", { input: { lines } });
        }
        return;
      }
      case "update": {
        await this.cart();
        const lineId = this.lineIds.get(s.name);
        if (!lineId) throw new Error(`no line of ${s.name}`);
        await this.shop("cartLinesUpdate", "$cartId: ID!, $lines: [CartLineUpdateInput!]!", {
          cartId: this.cartId,
          lines: [{ lineId, quantity: s.quantity }],
        });
        return;
      }
      case "apply":
        await this.shop("cartDiscountCodeApply", "$cartId: ID!, $code: String!", {
          cartId: this.cartId,
          code: s.code,
        });
        return;
      case "unapply":
        await this.shop("cartDiscountCodeRemove", "$cartId: ID!, $code: String!", {
          cartId: this.cartId,
          code: s.code,
        });
        return;
      case "reprice":
        await this.staffOk(
          "variantPriceUpdate",
          `mutation V($variantId: ID!, $price: Int!) { variantPriceUpdate(variantId: $variantId, price: $price) {
            variant { id } userErrors { code message } } }`,
          { variantId: this.variant(s.name), price: s.price.amount },
        );
        return;
      case "address":
        await this.shop("cartShippingAddressUpdate", "$cartId: ID!, $address: AddressInput!", {
          cartId: this.cartId,
          address: {
            firstName: "Ada",
            lastName: "Lovelace",
            line1: "1 Main St",
            city: "Springfield",
            region: s.region,
            postalCode: s.country.toUpperCase() === "CA" ? "M5V 2T6" : "90001",
            country: s.country,
          },
        });
        return;
      case "ship":
        if (!this.methodId) throw new Error("ship needs a shipping statement first");
        await this.shop("cartShippingMethodSelect", "$cartId: ID!, $shippingMethodId: ID!", {
          cartId: this.cartId,
          shippingMethodId: this.methodId,
        });
        return;
      case "checkout": {
        await this.shop("cartEmailUpdate", "$cartId: ID!, $email: String!", {
          cartId: this.cartId,
          email: `buyer-${unique()}@example.com`,
        });
        if (this.pendingErrors.length) return;
        const data = await this.gql<{
          checkoutComplete: { order: { cost: CartJson["cost"] } | null; userErrors: UserErrorJson[] };
        }>(
          `mutation C($input: CheckoutInput!) { checkoutComplete(input: $input) {
            order { cost { subtotal ${M} discount ${M} shipping ${M} tax ${M} shippingTax ${M} total ${M} } }
            userErrors { code message requiredAmount ${M} } } }`,
          {
            input: {
              cartId: this.cartId,
              idempotencyKey: `key-${unique()}-${unique()}`,
              paymentMethod: "pm_card_visa",
              expectedTotal: s.expectedTotal?.amount ?? null,
              acceptPriceChanges: s.accept,
            },
          },
          this.guestToken,
        );
        this.order = data.checkoutComplete.order;
        this.pendingErrors = data.checkoutComplete.userErrors;
        return;
      }
      case "expectOrder": {
        const cost = this.order?.cost;
        expect(cost, "an order placed by the last checkout").toBeDefined();
        for (const [field, price] of Object.entries(s.fields)) {
          expect(cost?.[field as keyof CartJson["cost"]], `order cost.${field}`).toEqual(money(price));
        }
        return;
      }
      case "expectError": {
        const errors = this.pendingErrors;
        this.pendingErrors = [];
        expect(errors.map((e) => e.code)).toEqual([s.code]);
        const [error] = errors;
        if (s.required) expect(error?.requiredAmount).toEqual(money(s.required));
        if (s.message !== null) expect(error?.message).toBe(s.message);
        return;
      }
      case "expectCost": {
        const { cost } = await this.cart();
        for (const [field, price] of Object.entries(s.fields)) {
          expect(cost[field as keyof typeof cost], `cost.${field}`).toEqual(money(price));
        }
        return;
      }
      case "expectLine": {
        const { lines } = await this.cart();
        const line = lines.find((l) => l.variant.sku === s.name);
        expect(line, `a line of ${s.name}`).toBeDefined();
        if (!line) return;
        if (s.qty !== null) expect(line.quantity, `${s.name} quantity`).toBe(s.qty);
        const figures = {
          unit: line.unitPrice,
          discount: line.discountAllocation,
          tax: line.tax,
          total: line.total,
        };
        for (const [field, price] of Object.entries(s.prices)) {
          expect(figures[field as keyof typeof figures], `${s.name} ${field}`).toEqual(money(price));
        }
        return;
      }
      case "expectCode": {
        const code = (await this.cart()).discountCodes.find((d) => d.code === s.code);
        expect(code, `code ${s.code} on the cart`).toMatchObject({
          applicable: true,
          reason: null,
          amount: money(s.amount),
        });
        return;
      }
      case "expectInapplicable": {
        const code = (await this.cart()).discountCodes.find((d) => d.code === s.code);
        expect(code, `code ${s.code} on the cart`).toMatchObject({
          applicable: false,
          reason: s.reason,
          amount: { amount: 0, formatted: "$0.00" },
          requiredAmount: s.required ? money(s.required) : null,
        });
        return;
      }
      case "expectWarning": {
        const { warnings } = await this.cart();
        expect(warnings).toContainEqual({ code: s.code, message: s.message });
        return;
      }
      case "expectCodes": {
        const { discountCodes } = await this.cart();
        expect(discountCodes.map((d) => d.code)).toEqual(s.codes);
        return;
      }
    }
  }

  finish(): void {
    if (this.pendingErrors.length) {
      throw new Error(`the last step was refused: ${JSON.stringify(this.pendingErrors)}`);
    }
  }
}

function money(price: Price): MoneyJson {
  return { amount: price.amount, formatted: price.text };
}

async function runExample(example: PricingExample): Promise<void> {
  const run = new ExampleRun(t.app, await createStore(t.app));
  await run.start();
  for (const { text, line, statement } of example.statements) {
    try {
      await run.run(statement);
    } catch (e) {
      const err = e as Error;
      err.message = `README.md:${line}: ${text}\n${err.message}`;
      throw err;
    }
  }
  run.finish();
}

describe("README pricing rules", () => {
  it("has a worked example under every rule, and reads every statement", () => {
    expect(examples.length).toBeGreaterThanOrEqual(12);
    const withExamples = new Set(examples.map((e) => e.title.replace(/ \(\d+\)$/, "")));
    for (const heading of ruleHeadings(README)) expect(withExamples, heading).toContain(heading);
    // The reader refuses what it does not know, rather than skipping it.
    expect(() => parseStatement("expect cost subtotl=$1.00")).toThrow(/unknown option/);
    expect(() => parseStatement("product TEE 12.00")).toThrow(/not a price/);
    expect(() => parsePricingExamples("## Pricing rules\n```pricing-example\nfly away\n```\n")).toThrow(
      /README.md:3: unknown statement/,
    );
  });

  for (const example of examples) {
    it(example.title, () => runExample(example));
  }
});

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
  };
}

describe("CartLine.tax", () => {
  it("adds up, with cost.shippingTax, to cost.tax exactly, whatever the lines, codes and shipping", async () => {
    const price = (amount: number): Price => ({ amount, text: "" });
    const prices = [1999, 333, 1, 4567, 12, 250, 7777];
    const names = prices.map((_, i) => `P${i}`);
    for (let seed = 1; seed <= 8; seed++) {
      const pick = random(seed);
      const run = new ExampleRun(t.app, await createStore(t.app));
      await run.start();
      const setup: Statement[] = [
        ...prices.map((amount, i): Statement => ({ kind: "product", name: `P${i}`, price: price(amount) })),
        { kind: "shipping", rate: price(499), freeOver: null },
        { kind: "tax", country: "US", region: null, rateBps: 825 },
        { kind: "tax", country: "US", region: "CA", rateBps: 725 + pick(300) },
      ];
      for (const code of ["P10", "F333"] as const) {
        setup.push({
          kind: "code",
          code,
          type: code === "P10" ? "PERCENTAGE" : "FIXED_AMOUNT",
          value: code === "P10" ? 10 : 333,
          buyQty: null,
          getQty: null,
          minOrder: null,
          combinable: true,
          only: null,
        });
      }
      for (const s of setup) await run.run(s);
      const chosen = new Set(Array.from({ length: 1 + pick(5) }, () => names[pick(names.length)] as string));
      await run.run({ kind: "add", lines: [...chosen].map((name) => ({ name, quantity: 1 + pick(7) })) });
      if (pick(2)) await run.run({ kind: "apply", code: "P10" });
      if (pick(2)) await run.run({ kind: "apply", code: "F333" });
      await run.run({ kind: "address", country: "US", region: pick(2) ? "CA" : "NY" });
      const shipped = pick(2) === 1;
      if (shipped) await run.run({ kind: "ship" });
      run.finish();
      const cart = await run.cart();
      const lineTax = cart.lines.reduce((sum, l) => sum + l.tax.amount, 0);
      expect(cart.cost.tax.amount, `seed ${seed}`).toBeGreaterThan(0);
      expect(lineTax + cart.cost.shippingTax.amount, `seed ${seed}`).toBe(cart.cost.tax.amount);
      if (!shipped)
        expect(lineTax, `seed ${seed}: no shipping, so no shipping tax`).toBe(cart.cost.tax.amount);
      for (const l of cart.lines) expect(l.tax.formatted).toBe(`$${(l.tax.amount / 100).toFixed(2)}`);
    }
  });
});
