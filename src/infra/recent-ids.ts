/**
 * Bounded memory of the ids a subscriber has already handled, to drop at-least-once redeliveries.
 * A Set of every id ever seen grows for as long as a subscription lives; this keeps the last `capacity`
 * ids (first in, first out). Redeliveries come soon after the original (a relay republishing what it
 * could not mark), so a window of recent ids catches them; an id older than the window is let through
 * again rather than risk dropping an event that was never delivered.
 */
export class RecentIds<Id extends string | number = string | number> {
  private readonly ids = new Set<Id>();

  constructor(readonly capacity = 10_000) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError("capacity must be a positive integer");
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: Id): boolean {
    return this.ids.has(id);
  }

  /**
   * Records `id`; true when it is new (handle it), false when it was seen within the window (drop it).
   * A repeat does not refresh its place: the window is about when an id was first seen.
   */
  add(id: Id): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      // A Set iterates in insertion order: the first id is the oldest.
      const oldest = this.ids.values().next();
      if (!oldest.done) this.ids.delete(oldest.value);
    }
    return true;
  }
}
