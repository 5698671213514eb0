// Chromium's own account of its memory (memory-infra), for the long dashboard watch (watch.mjs): which
// allocator inside which process holds it. The process's RSS/PSS says only how much; this says whose.
//
// One dump = one short trace with only the memory-infra category, a deterministic dump (garbage collected
// first, so it is what stays) and the trace read back over the DevTools protocol of the browser.

const CATEGORY = "disabled-by-default-memory-infra";
const MIB = 2 ** 20;

// Size in bytes of allocator `name`: its own `size`, or the sum of its direct children's when it has none
// (chromium sets the size on a parent only where the children do not add up to it).
function allocatorSize(allocators, name) {
  const own = allocators[name]?.attrs?.size;
  if (own) return parseInt(own.value, 16);
  const prefix = `${name}/`;
  let total = 0;
  for (const child of Object.keys(allocators)) {
    if (child.startsWith(prefix) && !child.slice(prefix.length).includes("/")) total += allocatorSize(allocators, child);
  }
  return total;
}

// The trace's memory dumps, one entry per process: its kind as chromium names it ("Renderer", "Browser",
// "GPU Process", "Service: network.mojom.NetworkService", ...), its private footprint (what chromium's task
// manager shows: the pages only this process holds, swapped ones included) and the size of every
// top-level allocator (malloc, partition_alloc, v8, blink_gc, cc, skia, gpu, discardable, ...), in MiB.
// Top-level allocators may overlap (partition_alloc serves some of malloc's callers), so they are not
// summed; the footprint is the total.
export function summariseDump(events) {
  const names = {};
  for (const e of events) if (e.ph === "M" && e.name === "process_name") names[e.pid] = e.args?.name;
  const byPid = new Map();
  for (const e of events) {
    if (e.ph !== "v" || !e.args?.dumps) continue;
    const entry = byPid.get(e.pid) ?? { pid: e.pid, kind: names[e.pid] ?? "unknown", footprint_mb: null, allocators_mb: {} };
    const totals = e.args.dumps.process_totals;
    if (totals?.private_footprint_bytes) entry.footprint_mb = round(parseInt(totals.private_footprint_bytes, 16) / MIB);
    const allocators = e.args.dumps.allocators ?? {};
    for (const name of Object.keys(allocators)) {
      if (name.includes("/") || name === "global") continue;
      const size = allocatorSize(allocators, name);
      if (size > 0) entry.allocators_mb[name] = round(size / MIB);
    }
    byPid.set(e.pid, entry);
  }
  return [...byPid.values()].filter((p) => p.footprint_mb !== null || Object.keys(p.allocators_mb).length);
}

function round(mib) {
  return Math.round(mib * 100) / 100;
}

// One deterministic dump of every process of `browser` (a playwright-core Browser), summarised.
export async function memoryDump(browser, { timeoutMs = 60_000 } = {}) {
  const cdp = await browser.newBrowserCDPSession();
  let timer;
  try {
    const complete = new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no memory trace within ${timeoutMs} ms`)), timeoutMs);
      cdp.once("Tracing.tracingComplete", resolve);
    });
    complete.catch(() => {}); // awaited below; a start that fails first must not leave it unhandled
    await cdp.send("Tracing.start", {
      transferMode: "ReturnAsStream",
      traceConfig: { includedCategories: [CATEGORY], excludedCategories: ["*"], memoryDumpConfig: { triggers: [] } },
    });
    const { success } = await cdp.send("Tracing.requestMemoryDump", { deterministic: true, levelOfDetail: "light" });
    await cdp.send("Tracing.end");
    const { stream } = await complete;
    if (!success) throw new Error("chromium did not complete the memory dump");
    const chunks = [];
    for (;;) {
      const { data, eof, base64Encoded } = await cdp.send("IO.read", { handle: stream });
      chunks.push(base64Encoded ? Buffer.from(data, "base64").toString("utf8") : data);
      if (eof) break;
    }
    await cdp.send("IO.close", { handle: stream });
    const trace = JSON.parse(chunks.join(""));
    return summariseDump(Array.isArray(trace) ? trace : trace.traceEvents ?? []);
  } finally {
    clearTimeout(timer);
    await cdp.detach().catch(() => {});
  }
}

// Tells every process of the page's browser that memory is critically short, as the operating system would
// under pressure: chromium then drops what it keeps only as a cache (decoded images in discardable memory,
// the compositor's tiles, font and resource caches). A dump right after shows what was cache and what stays.
export async function simulateCriticalPressure(cdp) {
  await cdp.send("Memory.simulatePressureNotification", { level: "critical" });
}
