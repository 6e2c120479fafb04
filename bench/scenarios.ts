/**
 * The scenarios: each one prepares its clients (sessions, carts, stock) in an untimed setup phase and
 * hands back one LoadClient per concurrent shopper.
 */
import { expectData, type GraphQLClient, type GraphQLResponse } from "./graphql-client.js";
import type { LoadClient, OpOutcome } from "./load.js";
import type { BenchOptions, ScenarioName } from "./options.js";

export interface Scenario {
  name: ScenarioName;
  /** What one request does, for the table and the results file. */
  operation: string;
  setup(): Promise<LoadClient[]>;
}

/** The most a cart line may hold (MAX_LINE_QUANTITY in the cart service). */
const MAX_LINE_QUANTITY = 999;

const USER_ERRORS = "userErrors { code message }";

const Q_STAFF_LOGIN = `mutation Login($email: String!, $password: String!) {
  staffLogin(email: $email, password: $password) { token ${USER_ERRORS} }
}`;

const Q_GUEST = `mutation Guest { guestSessionCreate { token ${USER_ERRORS} } }`;

const Q_VARIANTS = `query Variants {
  products(first: 100) { edges { node { status variants { id sku inStock stockOnHand } } } }
}`;

const Q_INVENTORY = `mutation Stock($variantId: ID!, $delta: Int!) {
  inventoryAdjust(variantId: $variantId, delta: $delta, reason: "bench: stock for add-to-cart") {
    variant { stockOnHand } ${USER_ERRORS}
  }
}`;

const Q_CART_CREATE = `mutation CreateCart($lines: [CartLineInput!]) {
  cartCreate(input: { lines: $lines }) { cart { id itemCount } ${USER_ERRORS} }
}`;

export const Q_CART_LINES_ADD = `mutation AddToCart($cartId: ID!, $variantId: ID!) {
  cartLinesAdd(cartId: $cartId, lines: [{ variantId: $variantId, quantity: 1 }]) {
    cart { id itemCount cost { subtotal { amount } total { amount } } }
    ${USER_ERRORS}
  }
}`;

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

interface UserErrorShape {
  code: string;
  message: string;
}
interface CartPayloadShape {
  cart: { id: string; itemCount: number } | null;
  userErrors: UserErrorShape[];
}
interface VariantShape {
  id: string;
  sku: string;
  inStock: boolean;
  stockOnHand: number | null;
}

/** Runs fn over items with at most `limit` in flight (setup must not look like a load test itself). */
async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Classifies a response: transport and GraphQL errors first, then the payload's own userErrors. */
function outcome<T>(res: GraphQLResponse<T>, check: (data: T) => string | undefined): OpOutcome {
  const base = res.sqlStatements === undefined ? {} : { sqlStatements: res.sqlStatements };
  if (res.status !== 200) return { ok: false, error: `HTTP_${res.status}`, ...base };
  const first = res.errors[0];
  if (first) return { ok: false, error: first.extensions?.code ?? "GRAPHQL_ERROR", ...base };
  if (res.data === null) return { ok: false, error: "NO_DATA", ...base };
  const problem = check(res.data);
  return problem ? { ok: false, error: problem, ...base } : { ok: true, ...base };
}

async function guestToken(client: GraphQLClient): Promise<string> {
  const data = expectData(
    await client.post<{ guestSessionCreate: { token: string | null; userErrors: UserErrorShape[] } }>(
      Q_GUEST,
      {},
    ),
    "guestSessionCreate",
  );
  const token = data.guestSessionCreate.token;
  if (!token) throw new Error(`guestSessionCreate: ${JSON.stringify(data.guestSessionCreate.userErrors)}`);
  return token;
}

async function createCart(
  client: GraphQLClient,
  token: string,
  lines: { variantId: string; quantity: number }[],
): Promise<string> {
  const data = expectData(
    await client.post<{ cartCreate: CartPayloadShape }>(Q_CART_CREATE, { lines }, token),
    "cartCreate",
  );
  const { cart, userErrors } = data.cartCreate;
  if (!cart || userErrors.length > 0) throw new Error(`cartCreate: ${JSON.stringify(userErrors)}`);
  return cart.id;
}

/** Sellable variants of active products, in catalog order. */
async function sellableVariants(client: GraphQLClient, token?: string): Promise<VariantShape[]> {
  const data = expectData(
    await client.post<{ products: { edges: { node: { status: string; variants: VariantShape[] } }[] } }>(
      Q_VARIANTS,
      {},
      token,
    ),
    "products listing",
  );
  return data.products.edges
    .filter((e) => e.node.status === "ACTIVE")
    .flatMap((e) => e.node.variants)
    .filter((v) => v.inStock);
}

async function staffToken(client: GraphQLClient, opts: BenchOptions): Promise<string> {
  if (!opts.staffPassword) {
    throw new Error(
      "add-to-cart raises stock as staff: give --staff-password or DEMO_STAFF_PASSWORD for " +
        opts.staffEmail,
    );
  }
  const data = expectData(
    await client.post<{ staffLogin: { token: string | null; userErrors: UserErrorShape[] } }>(Q_STAFF_LOGIN, {
      email: opts.staffEmail,
      password: opts.staffPassword,
    }),
    "staffLogin",
  );
  if (!data.staffLogin.token) throw new Error(`staffLogin: ${JSON.stringify(data.staffLogin.userErrors)}`);
  return data.staffLogin.token;
}

function addToCart(client: GraphQLClient, opts: BenchOptions): Scenario {
  return {
    name: "add-to-cart",
    operation: "cartLinesAdd, quantity 1, each client its own guest cart, variants in rotation",
    async setup() {
      const staff = await staffToken(client, opts);
      const variants = (await sellableVariants(client, staff)).slice(0, opts.addVariants);
      if (variants.length === 0) throw new Error("add-to-cart: the store has no sellable variant");
      // A cart holds at most MAX_LINE_QUANTITY of a variant, so that much stock means no client ever
      // sees INSUFFICIENT_STOCK (carts do not reserve stock; checkout does).
      await mapLimit(variants, 4, async (v) => {
        const delta = MAX_LINE_QUANTITY - (v.stockOnHand ?? 0);
        if (delta <= 0) return;
        const data = expectData(
          await client.post<{ inventoryAdjust: { userErrors: UserErrorShape[] } }>(
            Q_INVENTORY,
            { variantId: v.id, delta },
            staff,
          ),
          "inventoryAdjust",
        );
        if (data.inventoryAdjust.userErrors.length > 0) {
          throw new Error(`inventoryAdjust ${v.sku}: ${JSON.stringify(data.inventoryAdjust.userErrors)}`);
        }
      });
      const capacity = variants.length * MAX_LINE_QUANTITY;
      const sessions = await mapLimit(Array.from({ length: opts.clients }), 8, async () => {
        const token = await guestToken(client);
        return { token, cartId: await createCart(client, token, []) };
      });
      return sessions.map((session, index): LoadClient => {
        let adds = 0;
        let turn = index; // clients start on different variants so row locks spread too
        return {
          async prepare() {
            if (adds < capacity) return;
            session.cartId = await createCart(client, session.token, []);
            adds = 0;
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

function readCart(client: GraphQLClient, opts: BenchOptions): Scenario {
  return {
    name: "read-cart",
    operation: `cart(id) of the client's own ${opts.cartLines}-line guest cart, with prices and cost`,
    async setup() {
      const variants = await sellableVariants(client);
      if (variants.length < opts.cartLines) {
        throw new Error(
          `read-cart needs ${opts.cartLines} sellable variants, the store has ${variants.length}`,
        );
      }
      const lines = variants.slice(0, opts.cartLines).map((v) => ({ variantId: v.id, quantity: 1 }));
      const sessions = await mapLimit(Array.from({ length: opts.clients }), 8, async () => {
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

function products(client: GraphQLClient, opts: BenchOptions): Scenario {
  return {
    name: "products",
    operation: "products(first: 20) with variants and priceRange, anonymous",
    async setup() {
      return Array.from(
        { length: opts.clients },
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

export function createScenario(name: ScenarioName, client: GraphQLClient, opts: BenchOptions): Scenario {
  switch (name) {
    case "add-to-cart":
      return addToCart(client, opts);
    case "read-cart":
      return readCart(client, opts);
    case "products":
      return products(client, opts);
  }
}
