/**
 * Keyset pagination for Relay connections. Cursors are opaque base64url of (createdAt, id), so pages stay
 * stable while rows are inserted.
 */
import { ErrorCode, userError } from "./errors.js";
import { isSaneInstant, isUuid } from "./validation.js";

export const MAX_PAGE_SIZE = 100;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export interface Cursor {
  at: Date;
  id: string;
}

export interface Page<T> {
  items: { readonly cursor: string; node: T }[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.at.toISOString()}|${c.id}`).toString("base64url");
}

/** A cursor this server issued; anything else (forged, truncated, another API's) is INVALID_INPUT. */
export function decodeCursor(value: string): Cursor {
  const [at, id, ...rest] =
    value.length <= 200 ? Buffer.from(value, "base64url").toString("utf8").split("|") : [];
  const date = at ? new Date(at) : new Date(Number.NaN);
  if (!id || rest.length > 0 || !isUuid(id) || !isSaneInstant(date)) {
    throw userError(ErrorCode.INVALID_INPUT, "Invalid cursor", { field: ["after"] });
  }
  return { at: date, id };
}

export function pageSize(first: number | null | undefined): number {
  const n = first ?? 20;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) {
    throw userError(ErrorCode.INVALID_INPUT, `first must be from 0 to ${MAX_PAGE_SIZE}`, {
      field: ["first"],
    });
  }
  return n;
}

/** An item of a page; its cursor is encoded when read (a catalog page's clients rarely ask for it). */
class PageItem<T> {
  constructor(
    readonly node: T,
    private readonly cursorOf: (row: T) => Cursor,
  ) {}

  get cursor(): string {
    return encodeCursor(this.cursorOf(this.node));
  }
}

/** Given rows fetched with limit size+1, builds the page. */
export function toPage<T>(rows: T[], size: number, cursorOf: (row: T) => Cursor, after: boolean): Page<T> {
  const items = rows.slice(0, size).map((node) => new PageItem(node, cursorOf));
  return { items, hasNextPage: rows.length > size, hasPreviousPage: after };
}
