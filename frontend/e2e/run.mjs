// End-to-end walk through the dashboard in a real browser (Debian's chromium, headless, driven by
// playwright-core; no browser download). Run by tests/frontend/test_dashboard_e2e.py against a platform
// it started. Every step asserts what the user would see; each page's screenshot goes to DAYU_SHOTS.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, selectors } from "playwright-core";

const url = need("DAYU_URL");
const token = need("DAYU_TOKEN");
const shots = need("DAYU_SHOTS");
const dsFile = need("DAYU_DATASOURCE_FILE");
const badFile = need("DAYU_BAD_DATASOURCE_FILE");
const videoFile = need("DAYU_VIDEO_FILE");
const badVideoFile = need("DAYU_BAD_VIDEO_FILE");
const downloads = join(shots, "downloads");
const browserPath = process.env.DAYU_CHROMIUM ?? "/usr/bin/chromium";
const INSTALL_TIMEOUT = Number(process.env.DAYU_INSTALL_TIMEOUT_MS ?? 240_000);
mkdirSync(downloads, { recursive: true });

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function step(text) {
  console.log(`e2e: ${text}`);
}

async function shot(page, name) {
  await page.waitForTimeout(400); // let charts draw their last batch
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

async function gzipDownload(page, click, name) {
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60_000 }), click()]);
  const path = join(downloads, name);
  await download.saveAs(path);
  const bytes = readFileSync(path);
  if (bytes.length < 20 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw new Error(`${name}: not a gzip file`);
  return bytes.length;
}

selectors.setTestIdAttribute("data-test");
const browser = await chromium.launch({
  executablePath: browserPath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
const page = await context.newPage();
const consoleErrors = [];
page.on("pageerror", (err) => consoleErrors.push(String(err)));
page.setDefaultTimeout(30_000);

try {
  step("sign-in: a wrong token is refused with a clear message");
  await page.goto(url);
  await page.getByTestId("token").waitFor();
  await page.getByTestId("token").fill("not-the-token");
  await page.getByTestId("signin").click();
  await page.getByTestId("signin-error").getByText("Wrong token").waitFor();
  await shot(page, "signin");
  await page.getByTestId("token").fill(token);
  await page.getByTestId("signin").click();
  await page.getByTestId("install-summary").waitFor();
  await page.getByTestId("nodes").getByText("cloud").first().waitFor();
  await shot(page, "overview");

  step("DAGs: build on the canvas; the backend's type error shows on the edge; fix and save");
  await page.getByTestId("nav-DAGs").click();
  await page.getByTestId("new-dag").click();
  await page.getByTestId("dag-name").fill("e2e-faces");
  await page.getByTestId("palette-face-detection").dragTo(page.getByTestId("canvas"), { targetPosition: { x: 200, y: 180 } });
  await page.getByTestId("stage-face-detection").waitFor();
  await page.getByTestId("add-face-detection").click();
  const second = page.getByTestId("stage-face-detection-2");
  await second.waitFor();
  // Move the second stage away from the first so both handles are free, then connect them.
  const firstBox = await page.getByTestId("stage-face-detection").boundingBox();
  const secondBox = await second.boundingBox();
  await page.mouse.move(secondBox.x + 40, secondBox.y + 10);
  await page.mouse.down();
  await page.mouse.move(firstBox.x + 320, firstBox.y + 140, { steps: 8 });
  await page.mouse.up();
  const source = page.locator(".vue-flow__node", { has: page.getByTestId("stage-face-detection") }).locator(".vue-flow__handle.source");
  const target = page.locator(".vue-flow__node", { has: page.getByTestId("stage-face-detection-2") }).locator(".vue-flow__handle.target");
  const a = await source.boundingBox();
  const b = await target.boundingBox();
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 10 });
  await page.mouse.up();
  await page.locator(".vue-flow__edge").first().waitFor();
  await page.getByTestId("save-dag").click();
  await page.getByTestId("dag-error").waitFor();
  await page.locator(".vue-flow__edge-text", { hasText: "takes 'frame'" }).first().waitFor();
  await shot(page, "dags-error");
  await second.click();
  await page.getByTestId("remove-selected").click();
  await page.getByTestId("save-dag").click();
  await page.getByTestId("dag-saved").waitFor();
  await page.getByTestId("dag-e2e-faces").waitFor();
  await shot(page, "dags");

  step("datasources: upload two files, one result per file");
  await page.getByTestId("nav-Datasources").click();
  await page.getByTestId("ds-files").setInputFiles([dsFile, badFile]);
  await page.getByTestId("ds-upload").click();
  const results = page.getByTestId("ds-results");
  await results.getByText("added e2e-ds").waitFor();
  await results.locator(".badge.bad").waitFor();
  await page.getByTestId("ds-e2e-ds").waitFor();
  await shot(page, "datasources");

  step("datasources: a file that is not a video is refused; a real clip becomes a datasource without ground truth");
  await page.getByTestId("video-file").setInputFiles(badVideoFile);
  await page.getByTestId("video-add").click();
  await page.getByTestId("video-error").getByText("not a video file").waitFor({ timeout: 60_000 });
  await page.getByTestId("video-file").setInputFiles(videoFile);
  await page.getByTestId("video-add").click();
  await page.getByTestId("video-added").getByText("768x432, 12.5 fps, 377 frames").waitFor({ timeout: 120_000 });
  await page.getByTestId("ds-car-detection").getByTestId("no-ground-truth").waitFor();
  if (await page.getByTestId("ds-notes").count()) throw new Error("the refused file was stored");
  await shot(page, "datasources-video");

  step("install: policy, datasource, DAG per source; live stages until installed");
  await page.getByTestId("nav-Install").click();
  await page.getByTestId("policy").selectOption("fixed");
  await page.getByTestId("datasource").selectOption("e2e-ds");
  await page.getByTestId("dag-for-cam0").selectOption("e2e-faces");
  // The template's traces are offered (installed here without one: the links of base.yaml).
  await page.getByTestId("trace").locator("option", { hasText: "step-drop · 2–20 Mbit/s" }).waitFor({ state: "attached" });
  await page.getByTestId("install").click();
  await page.locator(".steps li.now, .steps li.done").first().waitFor();
  await page.getByTestId("phase").getByText("installed", { exact: true }).waitFor({ timeout: INSTALL_TIMEOUT });
  await page.getByTestId("open-query").click();
  await shot(page, "install");

  step("results: a frame with boxes arrives over SSE and the delay chart grows");
  await page.getByTestId("nav-Results").click();
  await page.getByTestId("stream-state").getByText("open").waitFor({ timeout: 60_000 });
  const frame = page.getByTestId("frame");
  await frame.waitFor({ timeout: 120_000 });
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-test="frame"]');
    return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 60_000 });
  // The boxes are drawn over the frame by the dashboard: wait for a result whose frame has some.
  await page.waitForFunction(() => document.querySelectorAll('[data-test="box"] rect').length > 0, null, {
    timeout: 120_000,
  });
  const drawn = await page.evaluate(() => {
    const svg = document.querySelector('[data-test="boxes"]');
    const img = document.querySelector('[data-test="frame"]');
    const a = svg.getBoundingClientRect();
    const b = img.getBoundingClientRect();
    const rect = svg.querySelector("rect").getBoundingClientRect();
    return {
      boxes: svg.querySelectorAll("rect").length,
      // the overlay covers the image exactly and its first box lies inside it
      aligned: Math.abs(a.left - b.left) < 1 && Math.abs(a.top - b.top) < 1 && Math.abs(a.width - b.width) < 1 && Math.abs(a.height - b.height) < 1,
      inside: rect.width > 0 && rect.left >= b.left - 1 && rect.right <= b.right + 1 && rect.top >= b.top - 1 && rect.bottom <= b.bottom + 1,
      labels: [...svg.querySelectorAll("text")].map((t) => t.textContent),
    };
  });
  if (!drawn.aligned || !drawn.inside) throw new Error(`boxes not drawn over the frame: ${JSON.stringify(drawn)}`);
  step(`${drawn.boxes} box(es) drawn over the frame: ${drawn.labels.join(", ")}`);
  await page.getByTestId("view-frame").screenshot({ path: join(shots, "frame.png") });
  const count = async () => Number((await page.getByTestId("results-status").innerText()).match(/(\d+) results/)?.[1] ?? 0);
  const before = await count();
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-test="results-status"]')?.textContent?.match(/(\d+) results/)?.[1] ?? 0) > n + 2,
    before,
    { timeout: 90_000 },
  );
  await page.getByTestId("view-delay").locator("canvas").first().waitFor();
  step(`results grew from ${before} to ${await count()}`);
  await shot(page, "results");
  const resultBytes = await gzipDownload(page, () => page.getByTestId("export-results").click(), "results.jsonl.gz");
  step(`exported results: ${resultBytes} bytes`);

  step("system: per-node figures over time; export");
  await page.getByTestId("nav-System").click();
  await page.getByTestId("system-cpu").locator("canvas").first().waitFor({ timeout: 60_000 });
  await shot(page, "system");
  const systemBytes = await gzipDownload(page, () => page.getByTestId("export-system").click(), "system.jsonl.gz");
  step(`exported system figures: ${systemBytes} bytes`);

  step("policy benchmark page");
  await page.getByTestId("nav-Policy benchmark").click();
  await page.getByTestId("bench-summary").waitFor();
  await page.getByTestId("bench-case-detail").waitFor();
  await shot(page, "bench");

  step("uninstall with confirmation");
  await page.getByTestId("nav-Install").click();
  await page.getByTestId("uninstall").click();
  await page.getByTestId("confirm").click();
  await page.getByText("Nothing is installed.").waitFor({ timeout: 120_000 });

  step("sign out");
  await page.getByTestId("signout").click();
  await page.getByTestId("token").waitFor();
  if (consoleErrors.length) throw new Error(`errors in the page: ${consoleErrors.join("; ")}`);
  writeFileSync(join(shots, "ok"), "passed\n");
  step("passed");
} catch (error) {
  await page.screenshot({ path: join(shots, "failure.png") }).catch(() => {});
  console.error(`e2e: FAILED: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
