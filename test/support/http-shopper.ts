/**
 * A shopper of the demo store driven over plain HTTP against a spawned server (no in-process services):
 * a guest session with a cart of one unit of an in-stock demo variant, an email, a US address and the
 * first shipping method. For tests that start real server processes.
 */
import { US_ADDRESS } from "./checkout-fixtures.js";
import { postGraphQL } from "./server-process.js";

/** A guest with a ready cart of one unit of a demo variant, over HTTP. */
export async function readyShopper(port: number) {
  const store = { "x-store": "demo" };
  const session = await postGraphQL<{ guestSessionCreate: { token: string } }>(
    port,
    `mutation { guestSessionCreate { token } }`,
    {},
    store,
  );
  const headers = { ...store, authorization: `Bearer ${session.data?.guestSessionCreate.token}` };
  const catalog = await postGraphQL<{
    products: { edges: { node: { variants: { id: string; inStock: boolean }[] } }[] };
  }>(port, `{ products(first: 20) { edges { node { variants { id inStock } } } } }`, {}, store);
  const variantId = catalog.data?.products.edges.flatMap((e) => e.node.variants).find((v) => v.inStock)?.id;
  if (!variantId) throw new Error("no variant in stock");
  const created = await postGraphQL<{ cartCreate: { cart: { id: string } } }>(
    port,
    `mutation C($l: [CartLineInput!]) { cartCreate(input: { lines: $l, email: "crash@test.example" }) { cart { id } userErrors { code } } }`,
    { l: [{ variantId, quantity: 1 }] },
    headers,
  );
  const cartId = created.data?.cartCreate.cart.id as string;
  await postGraphQL(
    port,
    `mutation A($c: ID!, $a: AddressInput!) { cartShippingAddressUpdate(cartId: $c, address: $a) { userErrors { code } } }`,
    { c: cartId, a: US_ADDRESS },
    headers,
  );
  const rates = await postGraphQL<{ shippingRates: { shippingMethod: { id: string } }[] }>(
    port,
    `query R($c: ID!) { shippingRates(cartId: $c) { shippingMethod { id } } }`,
    { c: cartId },
    headers,
  );
  await postGraphQL(
    port,
    `mutation M($c: ID!, $m: ID!) { cartShippingMethodSelect(cartId: $c, shippingMethodId: $m) { userErrors { code } } }`,
    { c: cartId, m: rates.data?.shippingRates[0]?.shippingMethod.id },
    headers,
  );
  return { headers, cartId, variantId };
}
