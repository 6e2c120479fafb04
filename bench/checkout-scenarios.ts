/**
 * checkout: checkoutComplete alone, each call on a fresh ready cart (3 lines, email, US address,
 * shipping method) built before the load, untimed. shopper: the whole flow from a new guest session
 * to a confirmed order, every step timed.
 */
import { randomBytes } from "node:crypto";
import type { BenchContext } from "./context.js";
import type { GraphQLClient, GraphQLResponse } from "./graphql-client.js";
import type { LoadClient, OpOutcome } from "./load.js";
import type { Scenario } from "./scenarios.js";
import {
  buyer,
  type CatalogVariant,
  type CheckoutPayloadShape,
  checkoutProblem,
  checkoutVariables,
  mapLimit,
  outcome,
  Q_CART_ADDRESS,
  Q_CART_CREATE,
  Q_CART_EMAIL,
  Q_CART_LINES_ADD,
  Q_CART_METHOD,
  Q_CHECKOUT,
  Q_GUEST,
  Q_SHIPPING_RATES,
  type ReadyCart,
  ReadyCartBuilder,
  raiseStock,
  SHIPPING_ADDRESS,
  type UserErrorShape,
} from "./shop-api.js";

/** Stock the checkout variants get before a run: no window can sell that much on one machine. */
export const STOCK_FOR_LOAD = 1_000_000;
/** Ready carts built at once in setup. */
const BUILD_CONCURRENCY = 16;
/** The pool holds this much more than the calibrated rate says the warm-up and window will use (a busy machine makes the calibration low). */
const POOL_MARGIN = 2;

/** Lines of the n-th cart: 3 distinct variants, rotating so that row locks spread like real load. */
export function cartLines(variants: readonly CatalogVariant[], n: number) {
  return [0, 1, 2].map((k) => ({ variantId: variants[(3 * n + k) % variants.length]!.id, quantity: 1 }));
}

/** Idempotency keys of this driver process: unique across runs on a kept database. */
export const RUN_TAG = randomBytes(6).toString("hex");

/** A ready cart and the buyer who checks it out: every cart of the process has a buyer of its own. */
interface BuyerCart {
  cart: ReadyCart;
  who: ReturnType<typeof buyer>;
}
let buyers = 0;

function checkoutOnce(
  client: GraphQLClient,
  cart: ReadyCart,
  key: string,
  who: ReturnType<typeof buyer>,
): Promise<OpOutcome> {
  return client
    .post<CheckoutPayloadShape>(
      Q_CHECKOUT,
      checkoutVariables(cart.cartId, key, who.card),
      cart.token,
      who.headers,
    )
    .then((res) => outcome(res, checkoutProblem));
}

/**
 * Every fraud rule on, with thresholds a merchant would set, none of which a bench buyer (an address,
 * a card and an email of their own) reaches: each checkout pays for evaluating all of them (the counts
 * per email, customer, address and card) and is still accepted, so the difference to `checkout` is what
 * the rules cost an accepted order.
 */
const EVERY_RULE_ACCEPTING = `mutation FraudOn {
  storeSettingsUpdate(input: { fraudRules: {
    totalAbove: { amount: 1000000000, action: REVIEW },
    ordersInWindow: { count: 5, action: REVIEW },
    failedPaymentsInWindow: { count: 3, action: REJECT },
    countryMismatch: REVIEW,
    firstOrderAbove: { amount: 1000000000, action: REVIEW },
    windowMinutes: 60 } }) { userErrors { code message } } }`;
const NO_RULES = `mutation FraudOff {
  storeSettingsUpdate(input: { fraudRules: {} }) { userErrors { code message } } }`;

async function setFraudRules(client: GraphQLClient, staff: string, on: boolean): Promise<void> {
  const res = await client.post<{ storeSettingsUpdate: { userErrors: UserErrorShape[] } }>(
    on ? EVERY_RULE_ACCEPTING : NO_RULES,
    {},
    staff,
  );
  const problem = res.errors?.[0]?.message ?? res.data?.storeSettingsUpdate.userErrors[0]?.message;
  if (problem) throw new Error(`storeSettingsUpdate (fraud rules): ${problem}`);
}

export function checkoutScenario(
  ctx: BenchContext,
  clients: number,
  variant: { fraudRules?: boolean } = {},
): Scenario {
  const { client, opts } = ctx;
  const details: Record<string, number> = {};
  const withRules = variant.fraudRules === true;
  return {
    name: withRules ? "checkout-fraud" : "checkout",
    operation: withRules
      ? "checkoutComplete as in checkout, with every fraud rule of the store on (none matching: accepted)"
      : "checkoutComplete of a ready 3-line guest cart (pm_card_visa), a fresh cart per call",
    details,
    async setup() {
      const staff = await ctx.staffToken();
      // The store's rules are this scenario's only: set for it, and off again for every other.
      await setFraudRules(client, staff, withRules);
      const variants = (await ctx.variants()).checkout;
      await raiseStock(client, staff, variants, STOCK_FOR_LOAD);
      const builder = new ReadyCartBuilder(client);
      let made = 0;
      const build = (n: number) =>
        mapLimit(Array.from({ length: n }), BUILD_CONCURRENCY, async (): Promise<BuyerCart> => {
          const i = made++;
          const b = buyers++;
          const cart = await builder.build(cartLines(variants, i), `checkout-${RUN_TAG}-${b}@bench.example`);
          return { cart, who: buyer(b, RUN_TAG) };
        });
      let keys = 0;
      const nextKey = () =>
        `bench-${RUN_TAG}-${withRules ? "checkout-fraud" : "checkout"}-${clients}-${keys++}`;

      let total = opts.checkoutCarts;
      if (total === 0) {
        // Calibration (not recorded): how fast this server checks out at this concurrency, so that
        // the pool lasts through the warm-up and the window without building carts during them.
        const probe = await build(clients * 3);
        const started = performance.now();
        const outcomes = await mapLimit(probe, clients, (p) =>
          checkoutOnce(client, p.cart, nextKey(), p.who),
        );
        // A failing checkout is fast: calibrating on failures would build a pool for a rate never reached.
        const failed = outcomes.find((o) => !o.ok);
        if (failed) throw new Error(`calibration checkout failed: ${failed.error ?? "unknown"}`);
        const rate = probe.length / ((performance.now() - started) / 1000);
        details.calibratedOrdersPerSecond = Math.round(rate * 10) / 10;
        total = Math.ceil(rate * (opts.warmupSeconds + opts.durationSeconds) * POOL_MARGIN) + 2 * clients;
      }
      const pool = await build(total);
      details.readyCarts = pool.length;
      pool.reverse(); // popped from the end: oldest first
      return Array.from({ length: clients }, (): LoadClient => {
        let next: BuyerCart | undefined;
        return {
          async prepare() {
            next = pool.pop();
            return next !== undefined;
          },
          op: () => checkoutOnce(client, next!.cart, nextKey(), next!.who),
        };
      });
    },
  };
}

interface StepResult<T> {
  res: GraphQLResponse<T>;
  problem?: string;
}

/** Setups of the shopper flow so far: a soak after a shopper run must not reuse that run's keys. */
let shopperSetups = 0;

export function shopperScenario(ctx: BenchContext, clients: number): Scenario {
  const { client } = ctx;
  return {
    name: "shopper",
    operation:
      "whole flow: guestSessionCreate, cartCreate, 3 cartLinesAdd, cartEmailUpdate, " +
      "cartShippingAddressUpdate, shippingRates, cartShippingMethodSelect, checkoutComplete",
    async setup() {
      const staff = await ctx.staffToken();
      await setFraudRules(client, staff, false);
      const variants = (await ctx.variants()).checkout;
      await raiseStock(client, staff, variants, STOCK_FOR_LOAD);
      let flows = 0;
      const setupNo = ++shopperSetups;
      return Array.from(
        { length: clients },
        (): LoadClient => ({
          async op() {
            const n = flows++;
            const steps: [string, number][] = [];
            let sql = 0;
            let sawSql = false;
            const step = async <T>(
              name: string,
              query: string,
              variables: Record<string, unknown>,
              check: (data: T) => string | undefined,
              token?: string,
            ): Promise<StepResult<T>> => {
              const started = performance.now();
              const res = await client.post<T>(query, variables, token);
              steps.push([name, performance.now() - started]);
              if (res.sqlStatements !== undefined) {
                sql += res.sqlStatements;
                sawSql = true;
              }
              const o = outcome(res, check);
              return o.ok ? { res } : { res, problem: `${name}: ${o.error}` };
            };
            const done = (problem?: string): OpOutcome => ({
              ok: problem === undefined,
              ...(problem ? { error: problem } : {}),
              requests: steps.length,
              steps,
              ...(sawSql ? { sqlStatements: sql } : {}),
            });
            const errs = (p: { userErrors: UserErrorShape[] }) => p.userErrors[0]?.code;

            const guest = await step<{
              guestSessionCreate: { token: string | null; userErrors: UserErrorShape[] };
            }>(
              "guestSessionCreate",
              Q_GUEST,
              {},
              (d) => errs(d.guestSessionCreate) ?? (d.guestSessionCreate.token ? undefined : "NO_TOKEN"),
            );
            if (guest.problem) return done(guest.problem);
            const token = guest.res.data!.guestSessionCreate.token!;
            type CartPayload = { cart: { id: string } | null; userErrors: UserErrorShape[] };
            const cartOk = (p: CartPayload) => errs(p) ?? (p.cart ? undefined : "NO_CART");
            const created = await step<{ cartCreate: CartPayload }>(
              "cartCreate",
              Q_CART_CREATE,
              {},
              (d) => cartOk(d.cartCreate),
              token,
            );
            if (created.problem) return done(created.problem);
            const cartId = created.res.data!.cartCreate.cart!.id;
            for (const line of cartLines(variants, n)) {
              const added = await step<{ cartLinesAdd: CartPayload }>(
                "cartLinesAdd",
                Q_CART_LINES_ADD,
                { cartId, variantId: line.variantId },
                (d) => cartOk(d.cartLinesAdd),
                token,
              );
              if (added.problem) return done(added.problem);
            }
            const email = await step<{ cartEmailUpdate: CartPayload }>(
              "cartEmailUpdate",
              Q_CART_EMAIL,
              { cartId, email: `shopper-${n}@bench.example` },
              (d) => cartOk(d.cartEmailUpdate),
              token,
            );
            if (email.problem) return done(email.problem);
            const address = await step<{ cartShippingAddressUpdate: CartPayload }>(
              "cartShippingAddressUpdate",
              Q_CART_ADDRESS,
              { cartId, address: SHIPPING_ADDRESS },
              (d) => cartOk(d.cartShippingAddressUpdate),
              token,
            );
            if (address.problem) return done(address.problem);
            const rates = await step<{ shippingRates: { shippingMethod: { id: string } }[] }>(
              "shippingRates",
              Q_SHIPPING_RATES,
              { cartId },
              (d) => (d.shippingRates.length > 0 ? undefined : "NO_RATES"),
              token,
            );
            if (rates.problem) return done(rates.problem);
            const method = await step<{ cartShippingMethodSelect: CartPayload }>(
              "cartShippingMethodSelect",
              Q_CART_METHOD,
              { cartId, shippingMethodId: rates.res.data!.shippingRates[0]!.shippingMethod.id },
              (d) => cartOk(d.cartShippingMethodSelect),
              token,
            );
            if (method.problem) return done(method.problem);
            const order = await step<CheckoutPayloadShape>(
              "checkoutComplete",
              Q_CHECKOUT,
              checkoutVariables(cartId, `bench-${RUN_TAG}-shopper-${clients}-${setupNo}-${n}`),
              checkoutProblem,
              token,
            );
            return done(order.problem);
          },
        }),
      );
    },
  };
}
