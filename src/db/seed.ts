/**
 * The demo stores, seeded into an empty database (`npm start` with SEED_DEMO, `npm run seed`):
 * `demo` (USD) with a catalog of 22 active products, shipping to US/CA/GB, tax rates and one discount
 * code of each type; `demo-eu` (EUR) with a few products of its own, to try tenant isolation.
 * The content is fixed (same names, SKUs, prices and stock on every run); ids are random.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { hashPassword, type PasswordCost } from "../services/password.js";
import type { Db, Tx } from "./client.js";
import {
  discounts,
  inventoryMovements,
  products,
  productVariants,
  shippingMethods,
  staffUsers,
  stores,
  taxRates,
} from "./schema.js";

export interface SeedResult {
  stores: string[];
  /** Set when no staff password was given: the one generated for both demo staff accounts. */
  generatedStaffPassword?: string;
}

/** Serialises concurrent seeders (several instances starting on one empty database). */
const SEED_LOCK_KEY = 727_002;

interface ProductSeed {
  name: string;
  description: string;
  basePrice: number;
  skuPrefix: string;
  /** Option axes; the variants are every combination, e.g. Color × Size. */
  options: [axis: string, values: string[]][];
  /** Own prices of the variants having one of these option values. */
  priceFor?: Record<string, number>;
  status?: "ACTIVE" | "DRAFT";
}

interface StoreSeed {
  handle: string;
  name: string;
  currency: string;
  staff: { email: string; name: string };
  catalog: ProductSeed[];
  shipping: { name: string; countries: string[]; rate: number; freeOver: number | null }[];
  taxes: { country: string; region: string; rateBps: number; name: string }[];
  discounts: Omit<typeof discounts.$inferInsert, "storeId">[];
}

const DEMO: StoreSeed = {
  handle: "demo",
  name: "Cartograph Demo",
  currency: "USD",
  staff: { email: "staff@demo.test", name: "Demo Owner" },
  catalog: [
    {
      name: "Classic Crew T-Shirt",
      description: "Midweight organic cotton tee with a relaxed fit.",
      basePrice: 2500,
      skuPrefix: "TEE",
      options: [
        ["Color", ["Black", "White", "Heather Grey"]],
        ["Size", ["S", "M", "L"]],
      ],
    },
    {
      name: "Heavyweight Hoodie",
      description: "Brushed-back fleece hoodie with a double-lined hood.",
      basePrice: 6500,
      skuPrefix: "HOOD",
      options: [
        ["Color", ["Charcoal", "Forest"]],
        ["Size", ["M", "L", "XL"]],
      ],
      priceFor: { XL: 6900 },
    },
    {
      name: "Selvedge Denim Jeans",
      description: "14 oz raw selvedge denim, made to fade.",
      basePrice: 9800,
      skuPrefix: "JEAN",
      options: [
        ["Fit", ["Slim", "Straight"]],
        ["Waist", ["30", "32", "34"]],
      ],
    },
    {
      name: "Merino Wool Beanie",
      description: "Soft rib-knit beanie in fine merino.",
      basePrice: 2800,
      skuPrefix: "BEANIE",
      options: [["Color", ["Oatmeal", "Navy", "Rust"]]],
    },
    {
      name: "Canvas Tote Bag",
      description: "Heavy cotton canvas tote with an inner pocket.",
      basePrice: 1800,
      skuPrefix: "TOTE",
      options: [["Color", ["Natural", "Black"]]],
    },
    {
      name: "Leather Card Wallet",
      description: "Vegetable-tanned leather, four card slots.",
      basePrice: 4500,
      skuPrefix: "WALLET",
      options: [["Color", ["Tan", "Black"]]],
    },
    {
      name: "Stainless Steel Water Bottle",
      description: "Double-walled: cold for 24 hours, hot for 12.",
      basePrice: 3200,
      skuPrefix: "BOTTLE",
      options: [["Size", ["500 ml", "750 ml", "1 l"]]],
      priceFor: { "750 ml": 3600, "1 l": 3900 },
    },
    {
      name: "Ceramic Pour-Over Dripper",
      description: "Brews one to two cups; fits most mugs.",
      basePrice: 3400,
      skuPrefix: "DRIPPER",
      options: [["Color", ["White", "Matte Black"]]],
    },
    {
      name: "Single-Origin Coffee Beans",
      description: "Washed Ethiopian beans, roasted weekly.",
      basePrice: 1600,
      skuPrefix: "COFFEE",
      options: [
        ["Roast", ["Light", "Medium", "Dark"]],
        ["Weight", ["250 g", "1 kg"]],
      ],
      priceFor: { "1 kg": 5200 },
    },
    {
      name: "Loose-Leaf Green Tea",
      description: "First-flush sencha from Shizuoka.",
      basePrice: 1200,
      skuPrefix: "TEA",
      options: [["Weight", ["100 g", "250 g"]]],
      priceFor: { "250 g": 2600 },
    },
    {
      name: "Hand-Thrown Stoneware Mug",
      description: "Each one slightly different; 350 ml.",
      basePrice: 2400,
      skuPrefix: "MUG",
      options: [["Glaze", ["Speckled White", "Ocean Blue", "Moss"]]],
    },
    {
      name: "Linen Napkin Set of 4",
      description: "Stonewashed European linen.",
      basePrice: 3000,
      skuPrefix: "NAPKIN",
      options: [["Color", ["Sand", "Sage", "Charcoal"]]],
    },
    {
      name: "Scented Soy Candle",
      description: "Cotton wick, about 50 hours of burn time.",
      basePrice: 2200,
      skuPrefix: "CANDLE",
      options: [["Scent", ["Cedar & Sage", "Fig", "Sea Salt"]]],
    },
    {
      name: "Wireless Earbuds",
      description: "Active noise cancelling, 30 hours with the case.",
      basePrice: 8900,
      skuPrefix: "EARBUDS",
      options: [["Color", ["Black", "White"]]],
    },
    {
      name: "USB-C Charger 65 W",
      description: "GaN charger with two USB-C ports.",
      basePrice: 3900,
      skuPrefix: "CHARGER",
      options: [["Color", ["White", "Black"]]],
    },
    {
      name: "Mechanical Keyboard",
      description: "Tenkeyless, hot-swappable switches, PBT keycaps.",
      basePrice: 12900,
      skuPrefix: "KEYBOARD",
      options: [["Switch", ["Red", "Brown", "Blue"]]],
    },
    {
      name: "Running Sneakers",
      description: "Lightweight daily trainer with a recycled mesh upper.",
      basePrice: 11000,
      skuPrefix: "SNEAKER",
      options: [["Size", ["8", "9", "10", "11"]]],
    },
    {
      name: "Cork Yoga Mat",
      description: "Natural cork surface on a rubber base.",
      basePrice: 4800,
      skuPrefix: "YOGA",
      options: [
        ["Thickness", ["4 mm", "6 mm"]],
        ["Color", ["Plum", "Slate"]],
      ],
      priceFor: { "6 mm": 5400 },
    },
    {
      name: "Trail Running Socks 3-Pack",
      description: "Merino blend with a cushioned sole.",
      basePrice: 1900,
      skuPrefix: "SOCKS",
      options: [["Size", ["S/M", "L/XL"]]],
    },
    {
      name: "Hardcover Notebook A5",
      description: "192 pages of 100 g/m² paper, lay-flat binding.",
      basePrice: 1500,
      skuPrefix: "NOTEBOOK",
      options: [["Ruling", ["Dotted", "Lined", "Blank"]]],
    },
    {
      name: "Brass Fountain Pen",
      description: "Solid brass body that patinas with use.",
      basePrice: 5600,
      skuPrefix: "PEN",
      options: [["Nib", ["Fine", "Medium"]]],
    },
    {
      name: "Wool Throw Blanket",
      description: "Woven lambswool, 130 × 180 cm.",
      basePrice: 11900,
      skuPrefix: "THROW",
      options: [["Color", ["Oat", "Indigo"]]],
    },
    {
      name: "Insulated Winter Parka",
      description: "Coming this winter (a draft: only staff see it).",
      basePrice: 24900,
      skuPrefix: "PARKA",
      options: [["Size", ["M", "L"]]],
      status: "DRAFT",
    },
  ],
  shipping: [
    { name: "Standard Shipping", countries: ["US"], rate: 599, freeOver: 5000 },
    { name: "Express Shipping", countries: ["US"], rate: 1499, freeOver: null },
    { name: "Canada Post", countries: ["CA"], rate: 1299, freeOver: 10000 },
    { name: "Royal Mail International", countries: ["GB"], rate: 1599, freeOver: null },
    { name: "International Express", countries: ["CA", "GB"], rate: 2999, freeOver: null },
  ],
  taxes: [
    { country: "US", region: "", rateBps: 0, name: "No sales tax" },
    { country: "US", region: "CA", rateBps: 725, name: "California sales tax" },
    { country: "US", region: "NY", rateBps: 400, name: "New York sales tax" },
    { country: "US", region: "TX", rateBps: 625, name: "Texas sales tax" },
    { country: "CA", region: "", rateBps: 500, name: "GST" },
    { country: "CA", region: "ON", rateBps: 1300, name: "HST" },
    { country: "GB", region: "", rateBps: 2000, name: "VAT" },
  ],
  discounts: [
    { code: "SAVE10", type: "PERCENTAGE", value: 10 },
    { code: "FIVEOFF", type: "FIXED_AMOUNT", value: 500, minOrderAmount: 2000 },
    { code: "FREESHIP", type: "FREE_SHIPPING", value: 0 },
    { code: "B2G1", type: "BUY_X_GET_Y", value: 100, buyQty: 2, getQty: 1 },
  ],
};

const DEMO_EU: StoreSeed = {
  handle: "demo-eu",
  name: "Cartograph Demo EU",
  currency: "EUR",
  staff: { email: "staff@demo-eu.test", name: "Demo EU Owner" },
  catalog: [
    {
      name: "Porcelain Espresso Cup Set",
      description: "Two cups with saucers, made in Bavaria.",
      basePrice: 3900,
      skuPrefix: "EU-ESPRESSO",
      options: [["Color", ["White", "Black"]]],
    },
    {
      name: "Linen Tea Towel",
      description: "Lithuanian linen, 50 × 70 cm.",
      basePrice: 1400,
      skuPrefix: "EU-TOWEL",
      options: [["Color", ["Natural", "Sage"]]],
    },
    {
      name: "Alpine Daypack 28 L",
      description: "Waxed canvas with leather trims.",
      basePrice: 8900,
      skuPrefix: "EU-DAYPACK",
      options: [["Color", ["Olive", "Anthracite"]]],
    },
    {
      name: "Organic Cotton Bathrobe",
      description: "Waffle weave, GOTS certified.",
      basePrice: 6900,
      skuPrefix: "EU-ROBE",
      options: [["Size", ["S/M", "L/XL"]]],
    },
  ],
  shipping: [
    { name: "DHL Paket", countries: ["DE"], rate: 490, freeOver: 5000 },
    { name: "Colissimo", countries: ["FR"], rate: 690, freeOver: 7000 },
    { name: "EU Express", countries: ["DE", "FR"], rate: 1490, freeOver: null },
  ],
  taxes: [
    { country: "DE", region: "", rateBps: 1900, name: "MwSt" },
    { country: "FR", region: "", rateBps: 2000, name: "TVA" },
  ],
  discounts: [],
};

/** Every combination of option values: [["Color", ["A", "B"]], ["Size", ["S"]]] -> A/S, B/S. */
function combinations(options: ProductSeed["options"]): Record<string, string>[] {
  return options.reduce<Record<string, string>[]>(
    (acc, [axis, values]) => acc.flatMap((combo) => values.map((value) => ({ ...combo, [axis]: value }))),
    [{}],
  );
}

const skuPart = (value: string) => value.toUpperCase().replace(/[^A-Z0-9]+/g, "");

/** A deterministic spread of stock between 5 and 50 units. */
const stockFor = (productIndex: number, variantIndex: number) =>
  5 + ((productIndex * 7 + variantIndex * 13) % 46);

async function seedStore(tx: Tx, seed: StoreSeed, passwordHash: string, startedAt: number): Promise<void> {
  const [store] = await tx
    .insert(stores)
    .values({ handle: seed.handle, name: seed.name, currency: seed.currency })
    .returning({ id: stores.id });
  if (!store) throw new Error("store insert returned nothing");
  const storeId = store.id;
  await tx
    .insert(staffUsers)
    .values({ storeId, email: seed.staff.email, name: seed.staff.name, passwordHash, role: "OWNER" });

  // Millisecond-spaced creation times keep the catalog listing in the order written above.
  const inserted = await tx
    .insert(products)
    .values(
      seed.catalog.map((p, i) => ({
        storeId,
        name: p.name,
        description: p.description,
        basePrice: p.basePrice,
        currency: seed.currency,
        status: p.status ?? "ACTIVE",
        createdAt: new Date(startedAt + i * 100),
        updatedAt: new Date(startedAt),
      })),
    )
    .returning({ id: products.id, createdAt: products.createdAt });
  const variantRows = seed.catalog.flatMap((p, i) => {
    const product = inserted[i]!;
    return combinations(p.options).map((attributes, j) => {
      const values = Object.values(attributes);
      const ownPrice = values.map((v) => p.priceFor?.[v]).find((price) => price !== undefined);
      return {
        storeId,
        productId: product.id,
        sku: [p.skuPrefix, ...values.map(skuPart)].join("-"),
        title: values.join(" / "),
        attributes,
        priceOverride: ownPrice ?? null,
        stockOnHand: stockFor(i, j),
        lowStockThreshold: 5,
        position: j,
        createdAt: product.createdAt,
        updatedAt: new Date(startedAt),
      };
    });
  });
  const variants = await tx
    .insert(productVariants)
    .values(variantRows)
    .returning({ id: productVariants.id, stockOnHand: productVariants.stockOnHand });
  await tx.insert(inventoryMovements).values(
    variants.map((v) => ({
      storeId,
      variantId: v.id,
      delta: v.stockOnHand,
      reason: "initial stock",
      actor: "seed",
      stockAfter: v.stockOnHand,
    })),
  );
  await tx.insert(shippingMethods).values(seed.shipping.map((m) => ({ ...m, storeId })));
  await tx.insert(taxRates).values(seed.taxes.map((r) => ({ ...r, storeId })));
  if (seed.discounts.length > 0) {
    await tx.insert(discounts).values(seed.discounts.map((d) => ({ ...d, storeId, isActive: true })));
  }
}

/** Does the database hold any store? */
export async function hasStores(db: Db | Tx): Promise<boolean> {
  const rows = await db.select({ id: stores.id }).from(stores).limit(1);
  return rows.length > 0;
}

/**
 * Seeds both demo stores in one transaction when the database has no store at all; returns null
 * (and changes nothing) otherwise. Both staff accounts get `staffPassword`, or one generated here.
 */
export async function seedDemoIfEmpty(
  db: Db,
  opts: { staffPassword?: string; passwordCost: PasswordCost },
): Promise<SeedResult | null> {
  // Cheap look first, so a restart of a seeded database does not pay for password hashing.
  if (await hasStores(db)) return null;
  const password = opts.staffPassword ?? randomBytes(12).toString("base64url");
  const generated = opts.staffPassword ? undefined : password;
  const [demoHash, euHash] = await Promise.all([
    hashPassword(password, opts.passwordCost),
    hashPassword(password, opts.passwordCost),
  ]);
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SEED_LOCK_KEY})`);
    if (await hasStores(tx)) return null;
    const startedAt = Date.now();
    await seedStore(tx, DEMO, demoHash, startedAt);
    await seedStore(tx, DEMO_EU, euHash, startedAt);
    return {
      stores: [DEMO.handle, DEMO_EU.handle],
      ...(generated ? { generatedStaffPassword: generated } : {}),
    };
  });
}
