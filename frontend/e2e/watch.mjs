// Keeps the dashboard open in a real browser for a long run and samples how it holds up (used by the soak,
// tests/faults/soak.py --dashboard). Debian's chromium, headless, driven by playwright-core; no download.
//
// One page per source stays on its Results page for the whole run; every DAYU_WATCH_SYSTEM_EVERY_S a third
// page opens the System page for DAYU_WATCH_SYSTEM_S and closes it again. Every DAYU_WATCH_INTERVAL_S each
// open page is sampled and one JSON line per page is printed on stdout:
//   heap_mb (JS heap used, after a forced GC), dom_nodes (elements in the document), nodes (DOM nodes the
//   renderer holds, detached ones included), listeners, chart_points (points drawn per chart, from the
//   charts' data-points), frames (requestAnimationFrame callbacks since the last sample) with the
//   percentiles of their deltas in ms, long_frames (deltas over 50 ms), long_tasks (main-thread tasks
//   over 50 ms, from the Long Tasks API) and their total ms, results (records the page holds).
// Every DAYU_WATCH_MEMORY_EVERY_S (default 300; 0: never) chromium's own memory dump of each Results page's
// browser is printed as {"event": "memory", "page", "processes": [{kind, footprint_mb, allocators_mb}]}
// (e2e/memory.mjs): which allocator of which process holds the memory. At the end, each page's browser is
// dumped once more, then told that memory is critically short, then dumped again ("phase": "after-pressure"):
// what it gave back was cache, what it kept is what the page holds.
// It stops on SIGTERM/SIGINT or after DAYU_WATCH_MINUTES, and prints a line {"event": "end"}.
import { chromium } from "playwright-core";
import { memoryDump, simulateCriticalPressure } from "./memory.mjs";

const url = need("DAYU_URL");
const token = need("DAYU_TOKEN");
const sources = need("DAYU_WATCH_SOURCES").split(",").filter(Boolean);
const browserPath = process.env.DAYU_CHROMIUM ?? "/usr/bin/chromium";
const intervalMs = Number(process.env.DAYU_WATCH_INTERVAL_S ?? 60) * 1000;
const minutes = Number(process.env.DAYU_WATCH_MINUTES ?? 60);
const systemEveryMs = Number(process.env.DAYU_WATCH_SYSTEM_EVERY_S ?? 900) * 1000;
const systemForMs = Number(process.env.DAYU_WATCH_SYSTEM_S ?? 60) * 1000;
const memoryEveryMs = Number(process.env.DAYU_WATCH_MEMORY_EVERY_S ?? 300) * 1000;
const LONG_FRAME_MS = 50;

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function emit(record) {
  process.stdout.write(`${JSON.stringify({ at: Date.now() / 1000, ...record })}\n`);
}

// Runs in every page before its own scripts: a requestAnimationFrame loop and a Long Tasks observer whose
// figures the sampler takes (and resets) once per interval.
function probe(signedInToken) {
  try {
    sessionStorage.setItem("dayu.token", signedInToken); // signed in, as the sign-in page would leave it
  } catch {
    /* about:blank has no storage */
  }
  const state = { deltas: [], longTasks: 0, longTaskMs: 0, last: 0 };
  const tick = (now) => {
    if (state.last) state.deltas.push(now - state.last);
    if (state.deltas.length > 20000) state.deltas.splice(0, state.deltas.length - 20000); // bounded
    state.last = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        state.longTasks += 1;
        state.longTaskMs += entry.duration;
      }
    }).observe({ type: "longtask", buffered: false });
  } catch {
    /* no Long Tasks API: counted as zero */
  }
  window.__dayuWatch = state;
}

function takeFigures(longFrameMs) {
  const state = window.__dayuWatch;
  const deltas = state.deltas.slice().sort((a, b) => a - b);
  const out = {
    frames: deltas.length,
    long_tasks: state.longTasks,
    long_task_ms: Math.round(state.longTaskMs),
    deltas_ms: {},
    long_frames: deltas.filter((d) => d > longFrameMs).length,
    dom_nodes: document.getElementsByTagName("*").length,
    chart_points: [...document.querySelectorAll("[data-points]")].map((el) => {
      const owner = el.closest("[data-test]");
      return { chart: owner?.getAttribute("data-test") ?? "chart", points: Number(el.getAttribute("data-points")) };
    }),
    results: document.querySelector('[data-test="results-status"]')?.textContent?.match(/(\d+) results/)?.[1] ?? null,
    stream: document.querySelector('[data-test="stream-state"]')?.textContent ?? null,
    visible: document.visibilityState === "visible",
  };
  for (const q of [50, 95, 99]) {
    out.deltas_ms[`p${q}`] = deltas.length ? Math.round(deltas[Math.min(deltas.length - 1, Math.floor((deltas.length * q) / 100))] * 10) / 10 : null;
  }
  out.deltas_ms.max = deltas.length ? Math.round(deltas[deltas.length - 1] * 10) / 10 : null;
  state.deltas = [];
  state.longTasks = 0;
  state.longTaskMs = 0;
  return out;
}

const pageErrors = [];
const browsers = new Set();

// Each page in a browser of its own, as a user's window would be: pages of one browser share a renderer
// and its frame scheduling, so one would slow the other's frames.
async function openPage(name, path) {
  const browser = await chromium.launch({
    executablePath: browserPath,
    headless: true,
    // This script stops on SIGTERM/SIGINT itself and still dumps the pages' memory before closing them;
    // playwright-core would otherwise close every browser on the signal first.
    handleSIGTERM: false,
    handleSIGINT: false,
    handleSIGHUP: false,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  browsers.add(browser);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript(probe, token);
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${name}: ${err}`));
  page.setDefaultTimeout(60_000);
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  await page.goto(`${url}/#${path}`);
  return { name, page, cdp, browser };
}

async function closePage(watched) {
  browsers.delete(watched.browser);
  await watched.browser.close().catch(() => {});
}

async function sample(watched) {
  const { page, cdp, name } = watched;
  await cdp.send("HeapProfiler.collectGarbage"); // the heap that stays, not garbage not yet collected
  const { metrics } = await cdp.send("Performance.getMetrics");
  const metric = Object.fromEntries(metrics.map((m) => [m.name, m.value]));
  const figures = await page.evaluate(takeFigures, LONG_FRAME_MS);
  emit({
    event: "sample",
    page: name,
    heap_mb: Math.round((metric.JSHeapUsedSize / 2 ** 20) * 100) / 100,
    nodes: metric.Nodes,
    listeners: metric.JSEventListeners,
    ...figures,
  });
}

let stopping = false;
let wake = null;
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    stopping = true;
    wake?.();
  });
}
const sleep = (ms) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });

let code = 0;
try {
  const pages = [];
  for (const source of sources) {
    const watched = await openPage(`results-${source}`, `/results/${source}`);
    await watched.page.locator('[data-test="stream-state"]').getByText("open").waitFor({ timeout: 120_000 });
    pages.push(watched);
  }
  emit({ event: "open", pages: pages.map((p) => p.name) });
  const started = Date.now();
  const deadline = started + minutes * 60_000;
  let nextSystem = started + systemEveryMs;
  let system = null;
  let systemUntil = 0;
  let nextSample = started + intervalMs;
  let nextMemory = memoryEveryMs > 0 ? started : Infinity; // one dump right away: the start of the trend
  while (!stopping && Date.now() < deadline) {
    const now = Date.now();
    if (!system && now >= nextSystem) {
      nextSystem = now + systemEveryMs;
      try {
        system = await openPage("system", "/system");
        await system.page.locator('[data-test="system-cpu"] canvas').first().waitFor({ timeout: 60_000 });
        systemUntil = Date.now() + systemForMs;
        emit({ event: "open", pages: ["system"] });
      } catch (error) {
        emit({ event: "page-failed", page: "system", error: String(error) });
        if (system) await closePage(system);
        system = null;
      }
    }
    if (now >= nextSample) {
      for (const watched of system ? [...pages, system] : pages) {
        // One failed sample (a page busy past the timeout) is reported; the watch goes on.
        await sample(watched).catch((error) => emit({ event: "sample-error", page: watched.name, error: String(error) }));
      }
      nextSample += intervalMs;
    }
    if (Date.now() >= nextMemory) {
      for (const watched of pages) {
        try {
          emit({ event: "memory", page: watched.name, processes: await memoryDump(watched.browser) });
        } catch (error) {
          emit({ event: "memory-error", page: watched.name, error: String(error) });
        }
      }
      nextMemory += memoryEveryMs;
    }
    if (system && Date.now() >= systemUntil) {
      await closePage(system);
      system = null;
      emit({ event: "closed", page: "system" });
    }
    await sleep(Math.max(100, Math.min(nextSample, nextMemory, system ? systemUntil : nextSystem) - Date.now()));
  }
  if (memoryEveryMs > 0) {
    for (const watched of pages) {
      try {
        emit({ event: "memory", page: watched.name, phase: "before-pressure", processes: await memoryDump(watched.browser) });
        await simulateCriticalPressure(watched.cdp);
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        emit({ event: "memory", page: watched.name, phase: "after-pressure", processes: await memoryDump(watched.browser) });
      } catch (error) {
        emit({ event: "memory-error", page: watched.name, error: String(error) });
      }
    }
  }
  if (pageErrors.length) emit({ event: "page-errors", errors: pageErrors.slice(0, 20), count: pageErrors.length });
} catch (error) {
  emit({ event: "failed", error: String(error.stack ?? error) });
  code = 1;
} finally {
  for (const browser of browsers) await browser.close().catch(() => {});
  emit({ event: "end" });
  process.exitCode = code;
}
