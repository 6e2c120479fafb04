/**
 * Where a server spent its CPU, from the .cpuprofile files `npm run bench -- --cpu-prof <dir>` leaves
 * (one per server process): self time by function and by package, and total time (self and callees) of
 * our own functions, which says which step of a request costs what. Usage:
 *   node --import tsx bench/cpu-profile.ts <dir-or-file>... [--top 25]
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FrameTime {
  frame: string;
  selfMs: number;
  share: number;
}

/** Where a script URL belongs: a package under node_modules, our source, or Node itself. */
function area(url: string): string {
  if (!url) return "(native / V8)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith("node:")) return "node core";
  const src = url.indexOf("/src/");
  return src >= 0 ? `src/${url.slice(src + 5).split("/")[0]}` : url;
}

export async function summarizeProfiles(files: string[], top = 25) {
  const byFrame = new Map<string, number>();
  const byArea = new Map<string, number>();
  const ownTotal = new Map<string, number>();
  let totalUs = 0;
  for (const file of files) {
    const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    profile.samples.forEach((id, i) => {
      const node = nodes.get(id);
      const us = profile.timeDeltas[i] ?? 0;
      if (!node) return;
      const frame = frameName(node);
      byFrame.set(frame, (byFrame.get(frame) ?? 0) + us);
      // Total time: every distinct frame of ours on the sample's stack (a recursive one counts once).
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const up = nodes.get(at);
        if (!up?.callFrame.url.includes("/src/") || up.callFrame.url.includes("node_modules/")) continue;
        const f = frameName(up);
        if (seen.has(f)) continue;
        seen.add(f);
        ownTotal.set(f, (ownTotal.get(f) ?? 0) + us);
      }
      const bucket = node.callFrame.functionName === "(idle)" ? "(idle)" : area(node.callFrame.url);
      byArea.set(bucket, (byArea.get(bucket) ?? 0) + us);
      totalUs += us;
    });
  }
  // Shares are of the busy time: "(idle)" is the event loop waiting.
  const busyUs = totalUs - (byFrame.get("(idle)") ?? 0);
  const rank = (m: Map<string, number>): FrameTime[] =>
    [...m]
      .filter(([frame]) => frame !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, us]) => ({
        frame,
        selfMs: Math.round(us / 1000),
        share: Math.round((us / Math.max(1, busyUs)) * 1000) / 10,
      }));
  return {
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    frames: rank(byFrame),
    areas: rank(byArea),
    ownTotals: rank(ownTotal),
  };
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || "(anonymous)";
  const where = url ? `${url.replace(/^file:\/\/.*?\/(node_modules|src)\//, "$1/")}:${lineNumber + 1}` : "";
  return where ? `${name} ${where}` : name;
}

async function profileFiles(target: string): Promise<string[]> {
  if ((await stat(target)).isDirectory()) {
    return (await readdir(target)).filter((f) => f.endsWith(".cpuprofile")).map((f) => path.join(target, f));
  }
  return [target];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf("--top");
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
  const files = (await Promise.all(args.map(profileFiles))).flat();
  if (files.length === 0) {
    console.error("usage: node --import tsx bench/cpu-profile.ts <dir-or-file>... [--top 25]");
    process.exit(2);
  }
  const { totalMs, busyMs, frames, areas, ownTotals } = await summarizeProfiles(files, top);
  console.log(
    `${files.length} profile(s), ${totalMs} ms sampled, ${busyMs} ms busy (shares are of busy time)\n`,
  );
  console.log("self time by area:");
  for (const a of areas)
    console.log(`  ${String(a.share).padStart(5)} %  ${String(a.selfMs).padStart(7)} ms  ${a.frame}`);
  console.log("\nself time by function:");
  for (const f of frames)
    console.log(`  ${String(f.share).padStart(5)} %  ${String(f.selfMs).padStart(7)} ms  ${f.frame}`);
  console.log("\ntotal time (self and callees) of our functions:");
  for (const f of ownTotals)
    console.log(`  ${String(f.share).padStart(5)} %  ${String(f.selfMs).padStart(7)} ms  ${f.frame}`);
}
