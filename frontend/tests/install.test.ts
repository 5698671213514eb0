// The Install page's link trace: offered as a select from GET /api/traces (with each trace's figures), a
// custom CSV file where the backend accepts one, nothing where the runtime emulates no links. The page runs
// on the real generated client; only the network under it is a stand-in answering like the backend.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it, vi } from "vitest";

const backend = vi.hoisted(() => {
  const answers = new Map<string, unknown>();
  const posts: { path: string; body: unknown }[] = [];
  // The client is made with relative URLs (same origin as the page); Node's Request needs an absolute one.
  class PageRequest extends Request {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" ? new URL(input, "http://dayu.test") : input, init);
    }
  }
  const reply = (status: number, body: unknown): Response =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  vi.stubGlobal("Request", PageRequest);
  vi.stubGlobal("fetch", async (request: Request) => {
    const path = new URL(request.url).pathname;
    if (request.method === "POST") {
      posts.push({ path, body: await request.json() });
      return reply(202, { phase: "installing", sources: [], progress: [], workloads: [] });
    }
    const answer = answers.get(path);
    return answer === undefined ? reply(404, { error: { code: "not_found", message: `no ${path}` } }) : reply(200, answer);
  });
  return { answers, posts };
});

import Install from "../src/pages/Install.vue";

const TRACES = {
  supported: true,
  custom_files: true,
  traces: [
    { name: "constant", duration_s: 0, min_mbps: 20, max_mbps: 20, rows: 1, delay: false },
    { name: "step-drop", duration_s: 80, min_mbps: 2, max_mbps: 20, rows: 4, delay: true },
  ],
  invalid: [{ name: "broken", error: "trace 'broken' line 3: not a number in {'t_s': '10', 'mbit_per_s': 'fast'}" }],
};

function answer(traces: unknown): void {
  backend.answers.clear();
  backend.posts.length = 0;
  backend.answers.set("/api/policies", [{ id: "fixed", name: "Fixed", description: "Same plan always.", default: true }]);
  backend.answers.set("/api/datasources", [
    {
      id: "synthetic",
      file_name: "synthetic.yaml",
      created: 0,
      open: false,
      installed: false,
      config: { name: "synthetic", description: "", sources: [{ id: "cam0", name: "Camera 0", mode: "http", dataset: "synthetic" }] },
    },
  ]);
  backend.answers.set("/api/dags", [{ name: "face-detection", spec: {}, dag: {} }]);
  backend.answers.set("/api/nodes", [{ name: "cloud", role: "cloud", arch: "amd64", labels: {} }]);
  backend.answers.set("/api/install", { phase: "uninstalled", sources: [], progress: [], workloads: [] });
  backend.answers.set("/api/traces", traces);
}

let wrapper: VueWrapper | null = null;
async function page(): Promise<VueWrapper> {
  wrapper = mount(Install);
  await flushPromises();
  await flushPromises();
  return wrapper;
}
afterEach(() => {
  wrapper?.unmount();
  wrapper = null;
});

describe("install page: link trace", () => {
  it("offers the backend's traces with their figures and installs the one picked", async () => {
    answer(TRACES);
    const w = await page();
    const options = w.findAll('[data-test="trace"] option').map((o) => o.text());
    expect(options).toEqual([
      "none: the links of base.yaml",
      "constant · 20 Mbit/s · constant",
      "step-drop · 2–20 Mbit/s · 80 s per pass · with delay",
      "a CSV file on the backend's machine…",
    ]);
    expect(w.get('[data-test="trace-invalid"]').text()).toContain("trace 'broken' line 3");
    expect(w.get('[data-test="trace-mode"]').attributes("disabled")).toBeDefined(); // no trace, no mode
    await w.get('[data-test="trace"]').setValue("step-drop");
    await w.get('[data-test="trace-mode"]').setValue("hold");
    await w.get('[data-test="install"]').trigger("click");
    await flushPromises();
    expect(backend.posts).toHaveLength(1);
    expect(backend.posts[0].path).toBe("/api/install");
    expect(backend.posts[0].body).toMatchObject({ datasource: "synthetic", trace: "step-drop", trace_mode: "hold" });
  });

  it("takes a CSV file path when the backend accepts one, and asks for it when it is missing", async () => {
    answer(TRACES);
    const w = await page();
    expect(w.find('[data-test="trace-file"]').exists()).toBe(false);
    await w.get('[data-test="trace"]').setValue("(file)");
    await w.get('[data-test="install"]').trigger("click");
    await flushPromises();
    expect(w.get('[data-test="install-submit-error"]').text()).toContain("path of the trace's CSV file");
    expect(backend.posts).toHaveLength(0);
    await w.get('[data-test="trace-file"]').setValue("  /srv/traces/lab.csv ");
    await w.get('[data-test="install"]').trigger("click");
    await flushPromises();
    expect(backend.posts.map((p) => (p.body as { trace: string }).trace)).toEqual(["/srv/traces/lab.csv"]);
  });

  it("offers no trace where the runtime emulates no links", async () => {
    answer({ supported: false, custom_files: false, traces: TRACES.traces, invalid: [] });
    const w = await page();
    expect(w.get('[data-test="trace"]').attributes("disabled")).toBeDefined();
    expect(w.findAll('[data-test="trace"] option').map((o) => o.text())).not.toContain("a CSV file on the backend's machine…");
    expect(w.get('[data-test="trace-unsupported"]').text()).toContain("does not emulate links");
    await w.get('[data-test="install"]').trigger("click");
    await flushPromises();
    expect(backend.posts[0].body).toMatchObject({ trace: null });
  });
});
