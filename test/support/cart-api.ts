/** GraphQL documents and small helpers for cart tests. */
import type { GqlOptions, TestApp } from "./test-app.js";

export const CART_FIELDS = `
  id status currencyCode email itemCount updatedAt expiresAt
  lines {
    id quantity customOptions priceChanged
    unitPrice { amount currencyCode } currentUnitPrice { amount } discountAllocation { amount } total { amount }
    variant { id sku }
  }
  cost { subtotal { amount } discount { amount } shipping { amount } tax { amount } total { amount } }
  warnings { code message lineId }
  discountCodes { code applicable reason amount { amount } }
`;

const USER_ERRORS =
  "userErrors { code message field variantId available requiredAmount { amount currencyCode formatted } }";

export interface UserErrorShape {
  code: string;
  message: string;
  field: string[] | null;
  variantId: string | null;
  available: number | null;
  requiredAmount: { amount: number; currencyCode: string; formatted: string } | null;
}

export interface CartShape {
  id: string;
  status: string;
  currencyCode: string;
  email: string | null;
  itemCount: number;
  updatedAt: string;
  expiresAt: string | null;
  lines: {
    id: string;
    quantity: number;
    customOptions: Record<string, unknown> | null;
    priceChanged: boolean;
    unitPrice: { amount: number; currencyCode: string };
    currentUnitPrice: { amount: number };
    discountAllocation: { amount: number };
    total: { amount: number };
    variant: { id: string; sku: string };
  }[];
  cost: Record<"subtotal" | "discount" | "shipping" | "tax" | "total", { amount: number }>;
  warnings: { code: string; message: string; lineId: string | null }[];
  discountCodes: { code: string; applicable: boolean; reason: string | null; amount: { amount: number } }[];
}

export interface CartPayloadShape {
  cart: CartShape | null;
  userErrors: UserErrorShape[];
}

export interface LineInput {
  variantId: string;
  quantity: number;
  customOptions?: { giftWrap?: boolean; personalization?: string };
}

export function cartApi(app: TestApp, store: string) {
  const mutate = async (name: string, args: string, vars: Record<string, unknown>, token?: string) => {
    const data = await app.ok<Record<string, CartPayloadShape>>(
      `mutation M(${args}) { ${name}(${Object.keys(vars)
        .map((k) => `${k}: $${k}`)
        .join(", ")}) { cart { ${CART_FIELDS} } ${USER_ERRORS} } }`,
      vars,
      { token, store },
    );
    const payload = data[name];
    if (!payload) throw new Error(`no payload for ${name}`);
    return payload;
  };
  return {
    create: (token: string, input?: { lines?: LineInput[]; email?: string }) =>
      mutate("cartCreate", "$input: CartCreateInput", { input: input ?? null }, token),
    add: (token: string, cartId: string, lines: LineInput[]) =>
      mutate("cartLinesAdd", "$cartId: ID!, $lines: [CartLineInput!]!", { cartId, lines }, token),
    update: (token: string, cartId: string, lines: { lineId: string; quantity: number }[]) =>
      mutate("cartLinesUpdate", "$cartId: ID!, $lines: [CartLineUpdateInput!]!", { cartId, lines }, token),
    remove: (token: string, cartId: string, lineIds: string[]) =>
      mutate("cartLinesRemove", "$cartId: ID!, $lineIds: [ID!]!", { cartId, lineIds }, token),
    setEmail: (token: string, cartId: string, email: string) =>
      mutate("cartEmailUpdate", "$cartId: ID!, $email: String!", { cartId, email }, token),
    saveForLater: (token: string, cartId: string, lineId: string) =>
      mutate("cartLineSaveForLater", "$cartId: ID!, $lineId: ID!", { cartId, lineId }, token),
    moveToCart: (token: string, savedItemId: string, cartId: string) =>
      mutate("savedItemMoveToCart", "$savedItemId: ID!, $cartId: ID!", { savedItemId, cartId }, token),
    async get(token: string | undefined, id: string, opts: GqlOptions = {}): Promise<CartShape | null> {
      const data = await app.ok<{ cart: CartShape | null }>(
        `query Q($id: ID!) { cart(id: $id) { ${CART_FIELDS} } }`,
        { id },
        { token, store, ...opts },
      );
      return data.cart;
    },
    async mine(token: string): Promise<CartShape | null> {
      const data = await app.ok<{ myCart: CartShape | null }>(
        `{ myCart { ${CART_FIELDS} } }`,
        {},
        { token, store },
      );
      return data.myCart;
    },
  };
}

/** Asserts a payload succeeded and returns its cart. */
export function okCart(payload: CartPayloadShape): CartShape {
  if (payload.userErrors.length || !payload.cart) {
    throw new Error(`expected success, got ${JSON.stringify(payload.userErrors)}`);
  }
  return payload.cart;
}
