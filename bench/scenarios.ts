/**
 * The closed-loop scenarios: each one prepares its clients (sessions, carts, stock) in an untimed setup
 * phase and hands back one LoadClient per concurrent shopper.
 */
import { checkoutScenario, shopperScenario } from "./checkout-scenarios.js";
import type { BenchContext } from "./context.js";
import type { LoadClient } from "./load.js";
import type { LoadScenarioName } from "./options.js";
import {
  adjustStock,
  createCart,
  guestToken,
  mapLimit,
  outcome,
  Q_CART_LINES_ADD,
  variantStock,
} from "./shop-api.js";

export interface Scenario {
  name: LoadScenarioName;
  /** What one operation does, for the table and the results file. */
  operation: string;
  /** Figures the setup found out (e.g. how many ready carts it built), filled in by setup(). */
  details?: Record<string, number>;
  setup(): Promise<LoadClient[]>;
}

/** The most a cart line may hold (MAX_LINE_QUANTITY in the cart service). */
const MAX_LINE_QUANTITY = 999;

export const Q_CART_READ = `query ReadCart($id: ID!) {
  cart(id: $id) {
    id
    lines {
      quantity
      variant { sku }
      unitPrice { amount currencyCode }
      currentUnitPrice { amount currencyCode }
    }
    cost {
      subtotal { amount currencyCode }
      discount { amount }
      shipping { amount }
      tax { amount }
      total { amount currencyCode }
    }
  }
}`;

export const Q_PRODUCTS = `query Products {
  products(first: 20) {
    edges {
      node {
        id
        name
        priceRange { min { amount currencyCode } max { amount currencyCode } }
        variants { id sku title price { amount currencyCode } inStock }
      }
    }
  }
}`;

interface CartPayloadShape {
  cart: { id: string; itemCount: number } | null;
  userErrors: { code: string }[];
}

function addToCart(ctx: BenchContext, clients: number): Scenario {
  const { client } = ctx;
  return {
    name: "add-to-cart",
    operation: "cartLinesAdd, quantity 1, each client its own guest cart, variants in rotation",
    async setup() {
      const staff = await ctx.staffToken();
      const variants = (await ctx.variants()).add;
      // A cart holds at most MAX_LINE_QUANTITY of a variant, so that much stock means no client ever
      // sees INSUFFICIENT_STOCK (carts do not reserve stock; checkout does).
      await mapLimit(variants, 4, async (v) => {
        const { stockOnHand, reserved } = await variantStock(client, staff, v.id);
        const delta = MAX_LINE_QUANTITY + reserved - stockOnHand;
        if (delta > 0) await adjustStock(client, staff, v, delta);
      });
      const capacity = variants.length * MAX_LINE_QUANTITY;
      const sessions = await mapLimit(Array.from({ length: clients }), 8, async () => {
        const token = await guestToken(client);
        return { token, cartId: await createCart(client, token, []) };
      });
      return sessions.map((session, index): LoadClient => {
        let adds = 0;
        let turn = index; // clients start on different variants so row locks spread too
        return {
          async prepare() {
            if (adds < capacity) return true;
            session.cartId = await createCart(client, session.token, []);
            adds = 0;
            return true;
          },
          async op() {
            const variant = variants[turn++ % variants.length]!;
            adds += 1;
            const res = await client.post<{ cartLinesAdd: CartPayloadShape }>(
              Q_CART_LINES_ADD,
              { cartId: session.cartId, variantId: variant.id },
              session.token,
            );
            return outcome(
              res,
              (d) => d.cartLinesAdd.userErrors[0]?.code ?? (d.cartLinesAdd.cart ? undefined : "NO_CART"),
            );
          },
        };
      });
    },
  };
}

function readCart(ctx: BenchContext, clients: number): Scenario {
  const { client, opts } = ctx;
  return {
    name: "read-cart",
    operation: `cart(id) of the client's own ${opts.cartLines}-line guest cart, with prices and cost`,
    async setup() {
      const lines = (await ctx.variants()).read.map((v) => ({ variantId: v.id, quantity: 1 }));
      const sessions = await mapLimit(Array.from({ length: clients }), 8, async () => {
        const token = await guestToken(client);
        return { token, cartId: await createCart(client, token, lines) };
      });
      return sessions.map(
        (session): LoadClient => ({
          async op() {
            const res = await client.post<{ cart: { lines: unknown[] } | null }>(
              Q_CART_READ,
              { id: session.cartId },
              session.token,
            );
            return outcome(res, (d) =>
              !d.cart ? "NO_CART" : d.cart.lines.length !== opts.cartLines ? "WRONG_LINE_COUNT" : undefined,
            );
          },
        }),
      );
    },
  };
}

function products(ctx: BenchContext, clients: number): Scenario {
  const { client } = ctx;
  return {
    name: "products",
    operation: "products(first: 20) with variants and priceRange, anonymous",
    async setup() {
      return Array.from(
        { length: clients },
        (): LoadClient => ({
          async op() {
            const res = await client.post<{ products: { edges: unknown[] } }>(Q_PRODUCTS, {});
            return outcome(res, (d) => (d.products.edges.length === 0 ? "NO_PRODUCTS" : undefined));
          },
        }),
      );
    },
  };
}

export function createScenario(name: LoadScenarioName, ctx: BenchContext, clients: number): Scenario {
  switch (name) {
    case "add-to-cart":
      return addToCart(ctx, clients);
    case "read-cart":
      return readCart(ctx, clients);
    case "products":
      return products(ctx, clients);
    case "checkout":
      return checkoutScenario(ctx, clients);
    case "checkout-fraud":
      return checkoutScenario(ctx, clients, { fraudRules: true });
    case "shopper":
      return shopperScenario(ctx, clients);
  }
}
