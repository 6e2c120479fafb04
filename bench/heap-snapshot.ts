/**
 * Summarises V8 heap snapshots (the soak's --heap-snapshots, or any .heapsnapshot):
 *
 *   node --max-old-space-size=8192 --import tsx bench/heap-snapshot.ts <a.heapsnapshot> [<b.heapsnapshot>]
 *     [--top 30] [--retainers <kind>] [--maps 15]
 *
 * One snapshot: count and self size per kind (objects by constructor, strings, closures by function,
 * V8's internal arrays by what holds them), and the biggest Map and Set objects with the path that
 * holds them. Two snapshots: the same, as the difference b − a, so what grew between them comes first.
 * `--retainers <kind>` tells, for the nodes of that kind (in the last snapshot), what holds them:
 * the kind and edge name of their retainers, a few levels up, counted.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

class Heap {
  readonly nodeCount: number;
  private readonly nodeFields: number;
  private readonly edgeFields: number;
  private readonly typeOffset: number;
  private readonly nameOffset: number;
  private readonly sizeOffset: number;
  private readonly edgeCountOffset: number;
  private readonly nodeTypes: string[];
  private readonly edgeTypes: string[];
  private readonly edgeTypeOffset: number;
  private readonly edgeNameOffset: number;
  private readonly edgeToOffset: number;
  /** Index of each node's first edge in `edges`. */
  private readonly firstEdge: Uint32Array;
  private retainersOf?: { first: Uint32Array; from: Uint32Array; edge: Uint32Array };

  constructor(private readonly raw: RawSnapshot) {
    const meta = raw.snapshot.meta;
    this.nodeFields = meta.node_fields.length;
    this.edgeFields = meta.edge_fields.length;
    this.typeOffset = meta.node_fields.indexOf("type");
    this.nameOffset = meta.node_fields.indexOf("name");
    this.sizeOffset = meta.node_fields.indexOf("self_size");
    this.edgeCountOffset = meta.node_fields.indexOf("edge_count");
    this.nodeTypes = meta.node_types[0];
    this.edgeTypes = meta.edge_types[0];
    this.edgeTypeOffset = meta.edge_fields.indexOf("type");
    this.edgeNameOffset = meta.edge_fields.indexOf("name_or_index");
    this.edgeToOffset = meta.edge_fields.indexOf("to_node");
    this.nodeCount = raw.nodes.length / this.nodeFields;
    this.firstEdge = new Uint32Array(this.nodeCount + 1);
    let e = 0;
    for (let n = 0; n < this.nodeCount; n++) {
      this.firstEdge[n] = e;
      e += raw.nodes[n * this.nodeFields + this.edgeCountOffset]! * this.edgeFields;
    }
    this.firstEdge[this.nodeCount] = e;
  }

  type(n: number): string {
    return this.nodeTypes[this.raw.nodes[n * this.nodeFields + this.typeOffset]!]!;
  }

  name(n: number): string {
    return this.raw.strings[this.raw.nodes[n * this.nodeFields + this.nameOffset]!]!;
  }

  selfSize(n: number): number {
    return this.raw.nodes[n * this.nodeFields + this.sizeOffset]!;
  }

  /** What the summary groups a node under. */
  kind(n: number): string {
    const type = this.type(n);
    switch (type) {
      case "object":
        return this.name(n);
      case "string":
      case "concatenated string":
      case "sliced string":
        return "(string)";
      case "closure":
        return `(closure ${this.name(n) || "anonymous"})`;
      case "array":
      case "hidden":
      case "object shape":
        return `(${type} ${this.name(n).slice(0, 40)})`;
      default:
        return `(${type})`;
    }
  }

  edges(n: number): { type: string; name: string; to: number }[] {
    const out: { type: string; name: string; to: number }[] = [];
    const { edges } = this.raw;
    for (let e = this.firstEdge[n]!; e < this.firstEdge[n + 1]!; e += this.edgeFields) {
      out.push(this.edge(e));
    }
    void edges;
    return out;
  }

  private edge(e: number): { type: string; name: string; to: number } {
    const type = this.edgeTypes[this.raw.edges[e + this.edgeTypeOffset]!]!;
    const nameOrIndex = this.raw.edges[e + this.edgeNameOffset]!;
    const name =
      type === "element" || type === "hidden" ? `[${nameOrIndex}]` : this.raw.strings[nameOrIndex]!;
    return { type, name, to: this.raw.edges[e + this.edgeToOffset]! / this.nodeFields };
  }

  /** Nodes holding `n` through a strong edge, with the edge's name. */
  retainers(n: number): { from: number; edge: string }[] {
    if (!this.retainersOf) this.retainersOf = this.buildRetainers();
    const { first, from, edge } = this.retainersOf;
    const out: { from: number; edge: string }[] = [];
    for (let i = first[n]!; i < first[n + 1]!; i++)
      out.push({ from: from[i]!, edge: this.edge(edge[i]!).name });
    return out;
  }

  private buildRetainers() {
    const count = new Uint32Array(this.nodeCount + 1);
    const strong = (e: number) => {
      const t = this.edgeTypes[this.raw.edges[e + this.edgeTypeOffset]!];
      return t !== "weak" && t !== "shortcut";
    };
    for (let n = 0; n < this.nodeCount; n++) {
      for (let e = this.firstEdge[n]!; e < this.firstEdge[n + 1]!; e += this.edgeFields) {
        if (strong(e)) count[this.raw.edges[e + this.edgeToOffset]! / this.nodeFields]! += 1;
      }
    }
    const first = new Uint32Array(this.nodeCount + 1);
    for (let n = 0; n < this.nodeCount; n++) first[n + 1] = first[n]! + count[n]!;
    const from = new Uint32Array(first[this.nodeCount]!);
    const edge = new Uint32Array(first[this.nodeCount]!);
    const fill = first.slice();
    for (let n = 0; n < this.nodeCount; n++) {
      for (let e = this.firstEdge[n]!; e < this.firstEdge[n + 1]!; e += this.edgeFields) {
        if (!strong(e)) continue;
        const to = this.raw.edges[e + this.edgeToOffset]! / this.nodeFields;
        const at = fill[to]!++;
        from[at] = n;
        edge[at] = e;
      }
    }
    return { first, from, edge };
  }
}

function load(file: string): Heap {
  return new Heap(JSON.parse(readFileSync(file, "utf8")) as RawSnapshot);
}

interface KindTotals {
  count: number;
  bytes: number;
}

function totals(heap: Heap): Map<string, KindTotals> {
  const by = new Map<string, KindTotals>();
  for (let n = 0; n < heap.nodeCount; n++) {
    const k = heap.kind(n);
    const t = by.get(k) ?? { count: 0, bytes: 0 };
    t.count += 1;
    t.bytes += heap.selfSize(n);
    by.set(k, t);
  }
  return by;
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);

/** A short path from a GC root down to `n`: at each step the first retainer that is not internal. */
function pathTo(heap: Heap, n: number, depth = 8): string {
  const steps: string[] = [];
  const seen = new Set<number>([n]);
  let at = n;
  for (let i = 0; i < depth; i++) {
    const holders = heap.retainers(at).filter((r) => !seen.has(r.from));
    if (holders.length === 0) break;
    const pick =
      holders.find((r) => heap.type(r.from) === "object" || heap.type(r.from) === "closure") ?? holders[0]!;
    steps.push(`${heap.kind(pick.from)}.${pick.edge}`);
    seen.add(pick.from);
    at = pick.from;
  }
  return steps.reverse().join(" -> ");
}

/** Map and Set objects by the size of their hash table (what their entries cost, keys and values apart). */
function biggestCollections(heap: Heap, top: number): string[] {
  const found: { n: number; table: number; entries: number }[] = [];
  for (let n = 0; n < heap.nodeCount; n++) {
    if (heap.type(n) !== "object") continue;
    const name = heap.name(n);
    if (name !== "Map" && name !== "Set") continue;
    const table = heap.edges(n).find((e) => e.name === "table");
    if (!table) continue;
    const entries = heap.edges(table.to).filter((e) => e.type === "internal" || e.type === "element").length;
    found.push({ n, table: heap.selfSize(table.to), entries });
  }
  found.sort((a, b) => b.table - a.table);
  return found
    .slice(0, top)
    .map(
      (f) =>
        `${mib(f.table).padStart(8)} MiB table, ~${String(f.entries).padStart(7)} slots  ${heap.name(f.n)} @${f.n}: ${pathTo(heap, f.n)}`,
    );
}

/** For nodes of `kind`: their retainers `levels` up, grouped by kind and edge, counted. */
function retainerSummary(heap: Heap, kind: string, levels: number, top: number): string[] {
  let frontier: number[] = [];
  for (let n = 0; n < heap.nodeCount; n++) if (heap.kind(n) === kind) frontier.push(n);
  const out: string[] = [`${frontier.length} nodes of ${kind}`];
  for (let level = 1; level <= levels && frontier.length > 0; level++) {
    const groups = new Map<string, { count: number; sample: number }>();
    const next = new Set<number>();
    for (const n of frontier) {
      const holders = heap.retainers(n);
      const pick =
        holders.find((r) => heap.type(r.from) === "object" || heap.type(r.from) === "closure") ?? holders[0];
      if (!pick) continue;
      const key = `${heap.kind(pick.from)}.${pick.edge.startsWith("[") ? "[i]" : pick.edge}`;
      const g = groups.get(key) ?? { count: 0, sample: pick.from };
      g.count += 1;
      groups.set(key, g);
      next.add(pick.from);
    }
    out.push(`level ${level}:`);
    for (const [key, g] of [...groups].sort((a, b) => b[1].count - a[1].count).slice(0, top)) {
      out.push(`  ${String(g.count).padStart(8)}  ${key}   e.g. ${pathTo(heap, g.sample, 6)}`);
    }
    frontier = [...next];
  }
  return out;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: "string", default: "30" },
      maps: { type: "string", default: "15" },
      retainers: { type: "string", multiple: true },
      levels: { type: "string", default: "4" },
    },
  });
  if (positionals.length < 1 || positionals.length > 2) {
    console.error(
      "usage: bench/heap-snapshot.ts <a.heapsnapshot> [<b.heapsnapshot>] [--top N] [--retainers kind]",
    );
    process.exit(2);
  }
  const top = Number(values.top);
  const heaps = positionals.map(load);
  const last = heaps.at(-1)!;
  const [a, b] = heaps.map(totals);
  const sum = (t: Map<string, KindTotals>) => [...t.values()].reduce((s, v) => s + v.bytes, 0);
  if (b) {
    console.log(`total self size ${mib(sum(a!))} -> ${mib(sum(b))} MiB (${positionals.join(" -> ")})`);
    const rows = [...new Set([...a!.keys(), ...b.keys()])].map((k) => {
      const x = a!.get(k) ?? { count: 0, bytes: 0 };
      const y = b.get(k) ?? { count: 0, bytes: 0 };
      return { k, dc: y.count - x.count, db: y.bytes - x.bytes, y };
    });
    rows.sort((p, q) => q.db - p.db);
    console.log("  Δ MiB     Δ count     count after  bytes/node  kind");
    for (const r of rows.slice(0, top)) {
      console.log(
        `${mib(r.db).padStart(8)} ${String(r.dc).padStart(11)} ${String(r.y.count).padStart(15)} ${String(
          r.dc ? Math.round(r.db / r.dc) : 0,
        ).padStart(11)}  ${r.k}`,
      );
    }
  } else {
    console.log(`total self size ${mib(sum(a!))} MiB`);
    for (const [k, t] of [...a!].sort((p, q) => q[1].bytes - p[1].bytes).slice(0, top)) {
      console.log(`${mib(t.bytes).padStart(8)} MiB ${String(t.count).padStart(10)}  ${k}`);
    }
  }
  console.log(`\nbiggest Map/Set tables (${positionals.at(-1)}):`);
  for (const line of biggestCollections(last, Number(values.maps))) console.log(line);
  for (const kind of values.retainers ?? []) {
    console.log(`\nretainers of ${kind}:`);
    for (const line of retainerSummary(last, kind, Number(values.levels), 8)) console.log(line);
  }
}

main();
