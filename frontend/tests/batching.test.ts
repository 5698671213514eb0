import { afterEach, describe, expect, it, vi } from "vitest";
import { Batcher } from "../src/lib/batcher";
import { SseParser } from "../src/lib/sse";

afterEach(() => vi.useRealTimers());

describe("SSE batching", () => {
  it("delivers a burst as one batch per interval", () => {
    vi.useFakeTimers();
    const batches: number[][] = [];
    const batcher = new Batcher<number>((items) => batches.push(items), { intervalMs: 1000, maxPending: 1000 });
    for (let i = 0; i < 10; i += 1) batcher.push(i); // 2 sources at 5 fps: 10 results per second
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(999);
    expect(batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(batches).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
    batcher.push(10);
    vi.advanceTimersByTime(1000);
    expect(batches).toHaveLength(2);
  });

  it("bounds what waits: a burst beyond maxPending keeps the newest and counts the rest", () => {
    vi.useFakeTimers();
    const batches: number[][] = [];
    const batcher = new Batcher<number>((items) => batches.push(items), { intervalMs: 500, maxPending: 100 });
    for (let i = 0; i < 250; i += 1) batcher.push(i);
    vi.advanceTimersByTime(500);
    expect(batches[0]).toHaveLength(100);
    expect(batches[0][0]).toBe(150);
    expect(batcher.dropped).toBe(150);
  });

  it("delivers nothing after stop", () => {
    vi.useFakeTimers();
    const deliver = vi.fn();
    const batcher = new Batcher<number>(deliver, { intervalMs: 100, maxPending: 10 });
    batcher.push(1);
    batcher.stop();
    vi.advanceTimersByTime(1000);
    expect(deliver).not.toHaveBeenCalled();
  });
});

describe("SSE parsing", () => {
  it("joins events split across chunks and skips comments", () => {
    const parser = new SseParser();
    expect(parser.feed(": stream open\n\nid: 7\nevent: res")).toEqual([]);
    expect(parser.feed('ult\ndata: {"seq": 7}\n')).toEqual([]);
    expect(parser.feed("\n: keep-alive\n\nevent: error\r\ndata: a\r\ndata: b\r\n\r\n")).toEqual([
      { event: "result", data: '{"seq": 7}', id: "7" },
      { event: "error", data: "a\nb", id: "7" },
    ]);
  });
});
