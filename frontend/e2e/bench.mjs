// The Policy benchmark page in a real browser (Debian's chromium, headless, driven by playwright-core),
// run by tests/frontend/test_bench_page.py against a real backend. It signs in, opens the page and writes
// what a reader sees to DAYU_SEEN (JSON); the test checks it against the results file it wrote.
// DAYU_BENCH_MODE: "suite" (the summary table, then every case's drill-down, chosen from the select and
// from a case's title), "error" (the message shown for a file that does not parse) or "empty".
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { chromium, selectors } from "playwright-core";

const url = need("DAYU_URL");
const token = need("DAYU_TOKEN");
const seenFile = need("DAYU_SEEN");
const mode = need("DAYU_BENCH_MODE");
const shots = process.env.DAYU_SHOTS;
const browserPath = process.env.DAYU_CHROMIUM ?? "/usr/bin/chromium";

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const norm = (s) => (s ?? "").replace(/\s+/g, " ").trim();

async function summary(page) {
  return page.evaluate(() => {
    const t = (el) => (el?.textContent ?? "").replace(/\s+/g, " ").trim();
    const q = (sel) => [...document.querySelectorAll(sel)];
    return {
      cases: q('[data-test="case-head"]').map((h) => ({
        key: h.dataset.case,
        title: t(h.querySelector('[data-test="case-select"]')),
        held: t(h.querySelector('[data-test="case-held"]')),
      })),
      figures: q('[data-test="figure-head"]').map((h) => ({ case: h.dataset.case, figure: h.dataset.figure, text: t(h) })),
      policies: q('[data-test="summary-row"]').map((r) => r.dataset.policy),
      cells: q('[data-test="summary-cell"]').map((c) => ({
        policy: c.closest("tr").dataset.policy,
        case: c.dataset.case,
        figure: c.dataset.figure,
        text: t(c),
      })),
    };
  });
}

async function detail(page, key) {
  const panel = page.locator(`[data-test="bench-case-detail"][data-case="${key}"]`);
  await panel.waitFor();
  // Every plot of the case is served and decoded.
  await page.waitForFunction(
    (k) => [...document.querySelectorAll(`[data-test="bench-case-detail"][data-case="${k}"] img`)].every((i) => i.complete && i.naturalWidth > 0),
    key,
    { timeout: 30_000 },
  );
  return panel.evaluate((root) => {
    const t = (el) => (el?.textContent ?? "").replace(/\s+/g, " ").trim();
    return {
      key: root.dataset.case,
      title: t(root.querySelector("h2")),
      held: t(root.querySelector('[data-test="detail-held"]')),
      reference: t(root.querySelector('[data-test="detail-reference"]')),
      seeds: t(root.querySelector('[data-test="detail-seeds"]')),
      head: [...root.querySelectorAll('[data-test="bench-runs"] thead th')].map(t),
      runs: [...root.querySelectorAll('[data-test="run-row"]')].map((r) => ({
        policy: r.dataset.policy,
        seed: r.dataset.seed,
        cells: [...r.querySelectorAll("td")].map(t),
        title: r.getAttribute("title"),
      })),
      plots: [...root.querySelectorAll('[data-test="case-plot"] figcaption')].map(t),
    };
  });
}

selectors.setTestIdAttribute("data-test");
const browser = await chromium.launch({
  executablePath: browserPath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
const pageErrors = [];
page.on("pageerror", (err) => pageErrors.push(String(err)));
page.setDefaultTimeout(30_000);
const seen = { mode };

try {
  await page.goto(url);
  await page.getByTestId("token").fill(token);
  await page.getByTestId("signin").click();
  await page.getByTestId("signout").waitFor();
  await page.getByTestId("nav-Policy benchmark").click();
  if (mode === "suite") {
    await page.getByTestId("bench-summary").waitFor();
    seen.summary = await summary(page);
    seen.initial = await detail(page, seen.summary.cases[0].key); // the first case is shown before any choice
    if (shots) {
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, "bench.png") });
    }
    seen.details = [];
    const keys = seen.summary.cases.map((c) => c.key);
    for (const key of keys.slice(0, -1)) {
      await page.getByTestId("bench-case").selectOption(key);
      seen.details.push(await detail(page, key));
    }
    // The last one from its title in the summary table.
    const last = keys[keys.length - 1];
    await page.locator(`[data-test="case-head"][data-case="${last}"] [data-test="case-select"]`).click();
    seen.details.push(await detail(page, last));
    seen.selectValue = await page.getByTestId("bench-case").inputValue();
    seen.table = norm(await page.getByTestId("bench-table").textContent());
  } else if (mode === "error") {
    await page.locator(".error-box").waitFor();
    seen.error = norm(await page.locator(".error-box").textContent());
    seen.summaryShown = await page.getByTestId("bench-summary").count();
  } else {
    await page.locator(".state").waitFor();
    await page.getByText("No policy benchmark has run here yet").waitFor();
    seen.state = norm(await page.locator(".state").textContent());
    seen.errorShown = await page.locator(".error-box").count();
  }
  seen.pageErrors = pageErrors;
  mkdirSync(dirname(seenFile), { recursive: true });
  writeFileSync(seenFile, JSON.stringify(seen, null, 1));
  console.log(`bench page (${mode}): seen`);
} catch (error) {
  if (shots) await page.screenshot({ path: join(shots, `bench-failure-${mode}.png`) }).catch(() => {});
  console.error(`bench page (${mode}): FAILED: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
