/**
 * The GraphQL calls the scenarios make, and the untimed helpers they set up with: guest sessions,
 * carts, ready-to-check-out carts, staff sign-in and stock. Every document is a constant, so a
 * request body costs the driver one JSON.stringify of small variables.
 */
import { expectData, type GraphQLClient, type GraphQLResponse } from "./graphql-client.js";
import type { OpOutcome } from "./load.js";

export const USER_ERRORS = "userErrors { code message }";

export const Q_STAFF_LOGIN = `mutation Login($email: String!, $password: String!) {
  staffLogin(email: $email, password: $password) { token ${USER_ERRORS} }
}`;
export const Q_GUEST = `mutation Guest { guestSessionCreate { token ${USER_ERRORS} } }`;
export const Q_CATALOG = `query Catalog {
  products(first: 100) {
    edges { node { status variants { id sku inStock stockOnHand reserved price { amount } } } }
  }
}`;
export const Q_INVENTORY = `mutation Stock($variantId: ID!, $delta: Int!) {
  inventoryAdjust(variantId: $variantId, delta: $delta, reason: "bench: stock for the load") {
    variant { stockOnHand reserved } ${USER_ERRORS}
  }
}`;
export const Q_VARIANT_STOCK = `query VariantStock($id: ID!) {
  variant(id: $id) { id sku stockOnHand reserved price { amount } }
}`;
export const Q_PRICE_UPDATE = `mutation Price($variantId: ID!, $price: Int!) {
  variantPriceUpdate(variantId: $variantId, price: $price) { variant { id } ${USER_ERRORS} }
}`;
export const Q_CART_CREATE = `mutation CreateCart($lines: [CartLineInput!], $email: String) {
  cartCreate(input: { lines: $lines, email: $email }) { cart { id itemCount } ${USER_ERRORS} }
}`;
export const Q_CART_LINES_ADD = `mutation AddToCart($cartId: ID!, $variantId: ID!) {
  cartLinesAdd(cartId: $cartId, lines: [{ variantId: $variantId, quantity: 1 }]) {
    cart { id itemCount cost { subtotal { amount } total { amount } } }
    ${USER_ERRORS}
  }
}`;
export const Q_CART_EMAIL = `mutation Email($cartId: ID!, $email: String!) {
  cartEmailUpdate(cartId: $cartId, email: $email) { cart { id } ${USER_ERRORS} }
}`;
export const Q_CART_ADDRESS = `mutation Address($cartId: ID!, $address: AddressInput!) {
  cartShippingAddressUpdate(cartId: $cartId, address: $address) { cart { id } ${USER_ERRORS} }
}`;
export const Q_SHIPPING_RATES = `query Rates($cartId: ID!) {
  shippingRates(cartId: $cartId) { price { amount } shippingMethod { id name } }
}`;
export const Q_CART_METHOD = `mutation Method($cartId: ID!, $shippingMethodId: ID!) {
  cartShippingMethodSelect(cartId: $cartId, shippingMethodId: $shippingMethodId) {
    cart { id cost { total { amount } } } ${USER_ERRORS}
  }
}`;
export const Q_CHECKOUT = `mutation Checkout($input: CheckoutInput!) {
  checkoutComplete(input: $input) {
    order { id number status }
    ${USER_ERRORS}
  }
}`;

/** The demo store ships to the US ("Standard Shipping"); NY has a sales tax rate. */
export const SHIPPING_ADDRESS = {
  firstName: "Bench",
  lastName: "Shopper",
  line1: "1 Load Test Way",
  city: "New York",
  region: "NY",
  postalCode: "10001",
  country: "US",
} as const;
export const PAYMENT_METHOD = "pm_card_visa";

export interface UserErrorShape {
  code: string;
  message: string;
}
interface CartPayloadShape {
  cart: { id: string } | null;
  userErrors: UserErrorShape[];
}
export interface CatalogVariant {
  id: string;
  sku: string;
  inStock: boolean;
  stockOnHand: number | null;
  reserved: number | null;
  price: { amount: number };
}
export interface CheckoutPayloadShape {
  checkoutComplete: {
    order: { id: string; number: string; status: string } | null;
    userErrors: UserErrorShape[];
  };
}

/** Runs fn over items with at most `limit` in flight (setup must not look like a load test itself). */
export async function mapLimit<T, R>(
  items: readonly T[],
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
export function outcome<T>(res: GraphQLResponse<T>, check: (data: T) => string | undefined): OpOutcome {
  const base = res.sqlStatements === undefined ? {} : { sqlStatements: res.sqlStatements };
  if (res.status !== 200) return { ok: false, error: `HTTP_${res.status}`, ...base };
  const first = res.errors[0];
  if (first) return { ok: false, error: first.extensions?.code ?? "GRAPHQL_ERROR", ...base };
  if (res.data === null) return { ok: false, error: "NO_DATA", ...base };
  const problem = check(res.data);
  return problem ? { ok: false, error: problem, ...base } : { ok: true, ...base };
}

/** What a checkoutComplete answer says: undefined when the order is CONFIRMED, else why not. */
export function checkoutProblem(d: CheckoutPayloadShape): string | undefined {
  const { order, userErrors } = d.checkoutComplete;
  if (userErrors[0]) return userErrors[0].code;
  if (!order) return "NO_ORDER";
  return order.status === "CONFIRMED" ? undefined : `ORDER_${order.status}`;
}

function payloadOk(what: string, payload: { userErrors: UserErrorShape[] }): void {
  if (payload.userErrors.length > 0) throw new Error(`${what}: ${JSON.stringify(payload.userErrors)}`);
}

export async function guestToken(client: GraphQLClient): Promise<string> {
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

export async function createCart(
  client: GraphQLClient,
  token: string,
  lines: { variantId: string; quantity: number }[],
  email?: string,
): Promise<string> {
  const data = expectData(
    await client.post<{ cartCreate: CartPayloadShape }>(Q_CART_CREATE, { lines, email }, token),
    "cartCreate",
  );
  payloadOk("cartCreate", data.cartCreate);
  if (!data.cartCreate.cart) throw new Error("cartCreate returned no cart");
  return data.cartCreate.cart.id;
}

export async function staffToken(client: GraphQLClient, email: string, password?: string): Promise<string> {
  if (!password) {
    throw new Error(
      `the bench raises stock as staff: give --staff-password or DEMO_STAFF_PASSWORD for ${email}`,
    );
  }
  const data = expectData(
    await client.post<{ staffLogin: { token: string | null; userErrors: UserErrorShape[] } }>(Q_STAFF_LOGIN, {
      email,
      password,
    }),
    "staffLogin",
  );
  if (!data.staffLogin.token) throw new Error(`staffLogin: ${JSON.stringify(data.staffLogin.userErrors)}`);
  return data.staffLogin.token;
}

/** Variants of ACTIVE products in catalog order, in stock or not (staff see the counters). */
export async function catalogVariants(client: GraphQLClient, token?: string): Promise<CatalogVariant[]> {
  const data = expectData(
    await client.post<{ products: { edges: { node: { status: string; variants: CatalogVariant[] } }[] } }>(
      Q_CATALOG,
      {},
      token,
    ),
    "products listing",
  );
  return data.products.edges.filter((e) => e.node.status === "ACTIVE").flatMap((e) => e.node.variants);
}

export async function variantStock(
  client: GraphQLClient,
  staff: string,
  variantId: string,
): Promise<{ stockOnHand: number; reserved: number; price: number }> {
  const data = expectData(
    await client.post<{
      variant: { stockOnHand: number | null; reserved: number | null; price: { amount: number } } | null;
    }>(Q_VARIANT_STOCK, { id: variantId }, staff),
    "variant",
  );
  if (!data.variant) throw new Error(`variant ${variantId} not found`);
  return {
    stockOnHand: data.variant.stockOnHand ?? 0,
    reserved: data.variant.reserved ?? 0,
    price: data.variant.price.amount,
  };
}

/** inventoryAdjust by `delta` (staff). */
export async function adjustStock(
  client: GraphQLClient,
  staff: string,
  variant: Pick<CatalogVariant, "id" | "sku">,
  delta: number,
): Promise<void> {
  if (delta === 0) return;
  const data = expectData(
    await client.post<{ inventoryAdjust: { userErrors: UserErrorShape[] } }>(
      Q_INVENTORY,
      { variantId: variant.id, delta },
      staff,
    ),
    "inventoryAdjust",
  );
  payloadOk(`inventoryAdjust ${variant.sku}`, data.inventoryAdjust);
}

/** Raises each variant's stock on hand to at least `units` (never lowers it). */
export async function raiseStock(
  client: GraphQLClient,
  staff: string,
  variants: readonly CatalogVariant[],
  units: number,
): Promise<void> {
  await mapLimit(variants, 4, async (v) => {
    const { stockOnHand } = await variantStock(client, staff, v.id);
    if (stockOnHand < units) await adjustStock(client, staff, v, units - stockOnHand);
  });
}

export interface ReadyCart {
  token: string;
  cartId: string;
}

/**
 * A guest cart that checkoutComplete can take: lines, email, US shipping address and a shipping
 * method. `shippingMethodId` is asked once (shippingRates) by the first cart and reused.
 */
export class ReadyCartBuilder {
  private shippingMethodId: Promise<string> | undefined;

  constructor(private readonly client: GraphQLClient) {}

  async build(lines: { variantId: string; quantity: number }[], email: string): Promise<ReadyCart> {
    const token = await guestToken(this.client);
    const cartId = await createCart(this.client, token, lines, email);
    const address = expectData(
      await this.client.post<{ cartShippingAddressUpdate: CartPayloadShape }>(
        Q_CART_ADDRESS,
        { cartId, address: SHIPPING_ADDRESS },
        token,
      ),
      "cartShippingAddressUpdate",
    );
    payloadOk("cartShippingAddressUpdate", address.cartShippingAddressUpdate);
    this.shippingMethodId ??= this.firstRate(cartId, token);
    const method = expectData(
      await this.client.post<{ cartShippingMethodSelect: CartPayloadShape }>(
        Q_CART_METHOD,
        { cartId, shippingMethodId: await this.shippingMethodId },
        token,
      ),
      "cartShippingMethodSelect",
    );
    payloadOk("cartShippingMethodSelect", method.cartShippingMethodSelect);
    return { token, cartId };
  }

  private async firstRate(cartId: string, token: string): Promise<string> {
    const data = expectData(
      await this.client.post<{ shippingRates: { shippingMethod: { id: string } }[] }>(
        Q_SHIPPING_RATES,
        { cartId },
        token,
      ),
      "shippingRates",
    );
    const first = data.shippingRates[0];
    if (!first) throw new Error("shippingRates: the store ships nothing to the bench address");
    return first.shippingMethod.id;
  }
}

/** The variables of one checkoutComplete of a ready cart; `card` is the TestGateway card it pays with. */
export function checkoutVariables(
  cartId: string,
  idempotencyKey: string,
  card: string = PAYMENT_METHOD,
): Record<string, unknown> {
  return { input: { cartId, idempotencyKey, paymentMethod: card } };
}

/**
 * The n-th buyer of a run as the fraud rules see them: a client address of their own (sent in
 * X-Forwarded-For; the bench server trusts one proxy hop) and a card of their own (the TestGateway's
 * pm_test_card_<label>). Real traffic comes from many addresses and cards; with one of each for every
 * order, the per-address and per-card rules would hold every order after the first few.
 */
export function buyer(n: number, runTag: string): { headers: Record<string, string>; card: string } {
  const address = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  return { headers: { "x-forwarded-for": address }, card: `pm_test_card_bench_${runTag}_${n}` };
}
