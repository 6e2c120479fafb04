/** GraphQL types of the catalog: products, variants, their listing and the staff mutations' inputs. */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type { CatalogProduct, CatalogVariant } from "../services/catalog.service.js";
import type { Page } from "../services/pagination.js";
import { Connection, JSONScalar, Money, PageInfo, Payload } from "./common.types.js";

export const ProductStatus = { ACTIVE: "ACTIVE", DRAFT: "DRAFT", ARCHIVED: "ARCHIVED" } as const;
export type ProductStatus = (typeof ProductStatus)[keyof typeof ProductStatus];
registerEnumType(ProductStatus, {
  name: "ProductStatus",
  description: "Only ACTIVE products are visible to shoppers; staff see all.",
});

@ObjectType({ description: "Something the store sells; shoppers buy one of its variants." })
export class Product {
  @Field(() => ID)
  id: string;

  @Field(() => String)
  name: string;

  @Field(() => String, { nullable: true })
  description: string | null;

  @Field(() => ProductStatus)
  status: ProductStatus;

  @Field(() => Money, { description: "The price of every variant without a price of its own." })
  basePrice: Money;

  @Field(() => Date)
  createdAt: Date;

  @Field(() => Date)
  updatedAt: Date;

  /** The row behind it, for the field resolvers (variants, priceRange). Not a GraphQL field. */
  record: CatalogProduct;

  static from(p: CatalogProduct): Product {
    return Object.assign(new Product(), {
      id: p.id,
      name: p.name,
      description: p.description,
      status: p.status,
      basePrice: Money.of(p.basePrice, p.currency),
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
      record: p,
    });
  }
}

@ObjectType({ description: "The lowest and highest price among a product's variants." })
export class PriceRange {
  @Field(() => Money)
  min: Money;

  @Field(() => Money)
  max: Money;

  static of(range: { min: number; max: number }, currency: string): PriceRange {
    return Object.assign(new PriceRange(), {
      min: Money.of(range.min, currency),
      max: Money.of(range.max, currency),
    });
  }
}

@ObjectType({ description: "A buyable version of a product (a size, a colour...)." })
export class ProductVariant {
  @Field(() => ID)
  id: string;

  @Field(() => String)
  sku: string;

  @Field(() => String)
  title: string;

  @Field(() => JSONScalar, {
    nullable: true,
    description: 'Option values, e.g. {"Color": "Navy", "Size": "M"}.',
  })
  attributes: Record<string, string>;

  @Field(() => Money, { description: "The variant's own price, else its product's base price." })
  price: Money;

  @Field(() => Boolean, { description: "At least one unit can be bought now." })
  inStock: boolean;

  /** The row behind it, for the field resolvers (product, staff-only stock). Not a GraphQL field. */
  record: CatalogVariant;

  static from(v: CatalogVariant): ProductVariant {
    return Object.assign(new ProductVariant(), {
      id: v.id,
      sku: v.sku,
      title: v.title,
      attributes: v.attributes,
      price: Money.of(v.price, v.currency),
      inStock: v.available > 0,
      record: v,
    });
  }
}

@ObjectType("ProductConnection")
export class ProductConnection extends Connection("Product", Product) {
  static from(page: Page<CatalogProduct>): ProductConnection {
    const pageInfo = Object.assign(new PageInfo(), {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: page.items[0]?.cursor ?? null,
      endCursor: page.items.at(-1)?.cursor ?? null,
    });
    return Object.assign(new ProductConnection(), {
      edges: page.items.map((item) => ({ cursor: item.cursor, node: Product.from(item.node) })),
      pageInfo,
      totalCount: null,
    });
  }
}

@ObjectType()
export class ProductPayload extends Payload {
  @Field(() => Product, { nullable: true })
  product: Product | null;
}

@ObjectType()
export class VariantPayload extends Payload {
  @Field(() => ProductVariant, { nullable: true })
  variant: ProductVariant | null;
}

@InputType({ description: "One variant of a new product." })
export class ProductVariantCreateInput {
  @Field(() => String, { description: "Unique within the store." })
  sku: string;

  @Field(() => String)
  title: string;

  @Field(() => JSONScalar, { nullable: true, description: "A flat object of texts." })
  attributes?: Record<string, unknown> | null;

  @Field(() => Int, { nullable: true, description: "Minor units; absent = the product's base price." })
  price?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: 0 })
  stockOnHand?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: 0, description: "lowStock turns true at or below it." })
  lowStockThreshold?: number | null;
}

@InputType()
export class ProductCreateInput {
  @Field(() => String)
  name: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => Int, { description: "Minor units, in the store's currency." })
  basePrice: number;

  @Field(() => ProductStatus, { nullable: true, defaultValue: ProductStatus.ACTIVE })
  status?: ProductStatus | null;

  @Field(() => [ProductVariantCreateInput], { description: "At least one." })
  variants: ProductVariantCreateInput[];
}
