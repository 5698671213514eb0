import { describe, expect, it } from "vitest";
import { RingBuffer, SeriesBuffer } from "../src/lib/buffer";
import { cdf, compact, resultSeries } from "../src/lib/series";
import type { ResultRecord } from "../src/api/types";

describe("chart buffers stay bounded", () => {
  it("keeps only the latest `capacity` items, oldest first", () => {
    const ring = new RingBuffer<number>(5);
    for (let i = 0; i < 10_000; i += 1) ring.push(i);
    expect(ring.length).toBe(5);
    expect(ring.toArray()).toEqual([9995, 9996, 9997, 9998, 9999]);
    expect(ring.last()).toBe(9999);
    ring.clear();
    expect(ring.toArray()).toEqual([]);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new RingBuffer(0)).toThrow(/positive integer/);
  });

  it("bounds the points of every series and the number of series", () => {
    const buffer = new SeriesBuffer(100, 3);
    // two sources at 5 fps for an hour, one point per frame: 36,000 points each
    for (let t = 0; t < 36_000; t += 1) {
      buffer.add("cam0", t, t);
      buffer.add("cam1", t, -t);
    }
    for (let s = 0; s < 10; s += 1) buffer.add(`extra${s}`, 0, 1);
    expect(buffer.names()).toEqual(["cam0", "cam1", "extra0"]);
    expect(buffer.points("cam0")).toHaveLength(100);
    expect(buffer.points("cam0")[99]).toEqual([35_999, 35_999]);
    expect(buffer.size()).toBe(201);
  });
});

describe("series from result records", () => {
  const record = (seq: number, extra: Partial<ResultRecord> = {}): ResultRecord => ({
    seq,
    kind: "result",
    finished_at: 1000 + seq,
    delay: seq / 10,
    stage_timings: { face: { transmit: 0.01, queue: 0.02 * seq, service: 0.03 } },
    meta: { resolution: "720p", fps: 5, qp: null, buffer_size: 4, encoding: "mp4v" },
    objects: [{ box: [0, 0, 1, 1], label: "face", frame_index: 0 }],
    ...extra,
  });

  it("stacks each stage's transmit, queue and service", () => {
    const series = resultSeries([record(1), record(2)], "stage_delay");
    expect(series.map((s) => s.name)).toEqual(["face transmit", "face queue", "face service"]);
    expect(series[1].points).toEqual([
      [1_001_000, 0.02],
      [1_002_000, 0.04],
    ]);
  });

  it("reads the configuration knobs as numbers and leaves drops out", () => {
    const drop: ResultRecord = { seq: 3, kind: "drop", reason: "queue_full" };
    const series = resultSeries([record(1), drop], "meta");
    expect(Object.fromEntries(series.map((s) => [s.name, s.points[0][1]]))).toEqual({ resolution: 720, fps: 5, buffer_size: 4 });
    expect(resultSeries([record(1), drop], "delay")[0].points).toHaveLength(1);
  });

  it("keeps a CDF to at most `max` points ending at 1", () => {
    const points = cdf(Array.from({ length: 1000 }, (_, i) => i), 50);
    expect(points.length).toBeLessThanOrEqual(51);
    expect(points.at(-1)).toEqual([999, 1]);
  });

  it("drops the boxes of records that are no longer shown", () => {
    expect(compact(record(1)).objects).toBeUndefined();
    expect(compact(record(1)).delay).toBe(0.1);
  });
});
