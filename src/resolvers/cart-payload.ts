import { Cart, CartPayload } from "../schema/cart.types.js";
import type { CartRecord } from "../services/cart/cart.types.js";
import { withUserErrors } from "./payload.js";

/** Runs a cart use case and answers with the CartPayload every cart mutation returns. */
export async function cartPayload(fn: () => Promise<CartRecord>): Promise<CartPayload> {
  const { value, userErrors } = await withUserErrors(fn);
  return Object.assign(new CartPayload(), { cart: value ? Cart.from(value) : null, userErrors });
}
