/** GraphQL types of the catalog: products, variants, their listing and the staff mutations' inputs. */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type { CatalogProduct, CatalogVariant, ProductPage } from "../services/catalog.service.js";
import { Connection, edgesOf, JSONScalar, Money, PageInfo, Payload } from "./common.types.js";

export const ProductStatus = { ACTIVE: "ACTIVE", DRAFT: "DRAFT", ARCHIVED: "ARCHIVED" } as const;
export type ProductStatus = (typeof ProductStatus)[keyof typeof ProductStatus];
registerEnumType(ProductStatus, {
  name: "ProductStatus",
  description: "Only ACTIVE products are visible to shoppers; staff see all.",
  valuesConfig: {
    ACTIVE: { description: "For sale: listed, and its variants can be added to carts and bought." },
    DRAFT: {
      description: "Not yet for sale: hidden from shoppers; lines already in carts cannot be checked out.",
    },
    ARCHIVED: {
      description: "No longer for sale: hidden from shoppers; lines already in carts cannot be checked out.",
    },
  },
});

@ObjectType({ description: "Something the store sells; shoppers buy one of its variants." })
export class Product {
  @Field(() => ID, { description: "The product's id." })
  id: string;

  @Field(() => String, { description: "Display name; `products(query:)` searches it." })
  name: string;

  @Field(() => String, { nullable: true, description: "Plain text, up to 5000 characters; null when none." })
  description: string | null;

  @Field(() => ProductStatus, {
    description: "Whether it is for sale (only ACTIVE products are visible to shoppers).",
  })
  status: ProductStatus;

  @Field(() => Money, { description: "The price of every variant without a price of its own." })
  basePrice: Money;

  @Field(() => Date, { description: "When it was created; `products` lists in this order." })
  createdAt: Date;

  @Field(() => Date, { description: "When it last changed." })
  updatedAt: Date;

  /** The row behind it, for the field resolvers (variants, priceRange). Not a GraphQL field. */
  record: CatalogProduct;

  /**
   * Its variants when they were read with it (a products page): `variants` and `priceRange` answer
   * from them at once, without a loader's promise each. Not a GraphQL field.
   */
  variantRows: CatalogVariant[] | undefined;

  static from(p: CatalogProduct, variants?: CatalogVariant[]): Product {
    const product = new Product();
    product.id = p.id;
    product.name = p.name;
    product.description = p.description;
    product.status = p.status;
    product.basePrice = Money.of(p.basePrice, p.currency);
    product.createdAt = p.createdAt;
    product.updatedAt = p.updatedAt;
    product.record = p;
    product.variantRows = variants;
    return product;
  }
}

@ObjectType({ description: "The lowest and highest price among a product's variants." })
export class PriceRange {
  @Field(() => Money, { description: "The cheapest variant's price." })
  min: Money;

  @Field(() => Money, { description: "The dearest variant's price." })
  max: Money;

  static of(range: { min: number; max: number }, currency: string): PriceRange {
    const priceRange = new PriceRange();
    priceRange.min = Money.of(range.min, currency);
    priceRange.max = Money.of(range.max, currency);
    return priceRange;
  }
}

@ObjectType({ description: "A buyable version of a product (a size, a colour...)." })
export class ProductVariant {
  @Field(() => ID, { description: "The variant's id: what cart lines name." })
  id: string;

  @Field(() => String, { description: "Stock keeping unit, unique within the store." })
  sku: string;

  @Field(() => String, { description: 'What distinguishes it, e.g. "Navy / M".' })
  title: string;

  @Field(() => JSONScalar, {
    nullable: true,
    description: 'Option values, e.g. {"Color": "Navy", "Size": "M"}.',
  })
  attributes: Record<string, string>;

  @Field(() => Money, { description: "The variant's own price, else its product's base price." })
  price: Money;

  @Field(() => Boolean, {
    description:
      "At least one unit can be bought now: on hand minus reserved (pending orders, cart holds) > 0.",
  })
  inStock: boolean;

  /** The row behind it, for the field resolvers (product, staff-only stock). Not a GraphQL field. */
  record: CatalogVariant;

  static from(v: CatalogVariant): ProductVariant {
    const variant = new ProductVariant();
    variant.id = v.id;
    variant.sku = v.sku;
    variant.title = v.title;
    variant.attributes = v.attributes;
    variant.price = Money.of(v.price, v.currency);
    variant.inStock = v.available > 0;
    variant.record = v;
    return variant;
  }
}

@ObjectType("ProductConnection", { description: "A page of products, oldest first." })
export class ProductConnection extends Connection("Product", Product) {
  static from(page: ProductPage): ProductConnection {
    return Object.assign(new ProductConnection(), {
      edges: edgesOf(page, (row) => Product.from(row, page.variants.get(row.id))),
      pageInfo: PageInfo.of(page),
      totalCount: null,
    });
  }
}

@ObjectType({ description: "What productCreate answered." })
export class ProductPayload extends Payload {
  @Field(() => Product, {
    nullable: true,
    description: "The new product; its `variants` carry the new variant ids. Null on userErrors.",
  })
  product: Product | null;
}

@ObjectType({ description: "What variantPriceUpdate and inventoryAdjust answered." })
export class VariantPayload extends Payload {
  @Field(() => ProductVariant, {
    nullable: true,
    description: "The variant as it is now; null on userErrors.",
  })
  variant: ProductVariant | null;
}

@InputType({ description: "One variant of a new product." })
export class ProductVariantCreateInput {
  @Field(() => String, { description: "1-64 characters, unique within the store (also across this input)." })
  sku: string;

  @Field(() => String, { description: '1-200 characters, e.g. "Navy / M".' })
  title: string;

  @Field(() => JSONScalar, {
    nullable: true,
    description:
      'A flat object of texts, e.g. {"Color": "Navy"}: at most 30 names of 1-50 characters, values of 1-200.',
  })
  attributes?: Record<string, unknown> | null;

  @Field(() => Int, {
    nullable: true,
    description: "Minor units of the store currency, 0 to 100,000,000; absent = the product's base price.",
  })
  price?: number | null;

  @Field(() => Int, {
    nullable: true,
    defaultValue: 0,
    description: "Units on hand to start with, 0 to 1,000,000.",
  })
  stockOnHand?: number | null;

  @Field(() => Int, {
    nullable: true,
    defaultValue: 0,
    description: "0 to 1,000,000: lowStock turns true, and a low-stock alert goes out, at or below it.",
  })
  lowStockThreshold?: number | null;
}

@InputType({ description: "A new product with its variants." })
export class ProductCreateInput {
  @Field(() => String, { description: "1-200 characters." })
  name: string;

  @Field(() => String, { nullable: true, description: "Up to 5000 characters." })
  description?: string | null;

  @Field(() => Int, {
    description:
      "Minor units of the store currency, 0 to 100,000,000: the price of variants without their own.",
  })
  basePrice: number;

  @Field(() => ProductStatus, {
    nullable: true,
    defaultValue: ProductStatus.ACTIVE,
    description: "ACTIVE (for sale, the default), DRAFT or ARCHIVED.",
  })
  status?: ProductStatus | null;

  @Field(() => [ProductVariantCreateInput], { description: "1 to 100 variants." })
  variants: ProductVariantCreateInput[];
}
