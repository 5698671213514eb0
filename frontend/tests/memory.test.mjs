// The summary of chromium's memory-infra dump that the long dashboard watch (e2e/watch.mjs) records.
import { describe, expect, it } from "vitest";
import { summariseDump } from "../e2e/memory.mjs";

const MIB = 2 ** 20;
const hex = (mib) => `${Math.round(mib * MIB).toString(16)}`;
const size = (mib) => ({ attrs: { size: { type: "scalar", units: "bytes", value: hex(mib) } } });

// Shaped like a real trace of chromium (memory-infra, level "light"): process names as metadata events,
// one "v" event per process with its totals and allocators.
const events = [
  { ph: "M", name: "process_name", pid: 10, args: { name: "Renderer" } },
  { ph: "M", name: "process_name", pid: 11, args: { name: "Browser" } },
  { ph: "M", name: "thread_name", pid: 10, args: { name: "CrRendererMain" } },
  {
    ph: "v",
    pid: 10,
    args: {
      dumps: {
        process_totals: { private_footprint_bytes: hex(120) },
        allocators: {
          malloc: size(40),
          v8: size(12.5),
          // No size of its own: its children add up (the grandchild is inside the child, not counted twice).
          partition_alloc: {},
          "partition_alloc/partitions": {},
          "partition_alloc/partitions/buffer": size(30),
          "partition_alloc/partitions/fast_malloc": size(6),
          "partition_alloc/partitions/fast_malloc/thread_cache": size(1),
          skia: {},
        },
      },
    },
  },
  { ph: "v", pid: 11, args: { dumps: { process_totals: { private_footprint_bytes: hex(80) }, allocators: { malloc: size(20) } } } },
  { ph: "v", pid: 12, args: { dumps: { allocators: { global: size(3) } } } },
];

describe("summariseDump", () => {
  it("gives each process its kind, private footprint and top-level allocators in MiB", () => {
    const out = summariseDump(events);
    expect(out).toEqual([
      { pid: 10, kind: "Renderer", footprint_mb: 120, allocators_mb: { malloc: 40, v8: 12.5, partition_alloc: 36 } },
      { pid: 11, kind: "Browser", footprint_mb: 80, allocators_mb: { malloc: 20 } },
    ]);
  });

  it("leaves out events that are not memory dumps", () => {
    expect(summariseDump([{ ph: "X", name: "RunTask", pid: 1 }, { ph: "v", pid: 2, args: {} }])).toEqual([]);
  });
});
