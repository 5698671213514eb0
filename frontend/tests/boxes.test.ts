import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import type { ResultRecord, ViewSpec } from "../src/api/types";
import { setToken } from "../src/api/auth";
import ResultView from "../src/components/ResultView.vue";
import { accuracyReference, colorOf, frameBoxes } from "../src/lib/boxes";
import { resultSeries } from "../src/lib/series";

describe("boxes on a frame", () => {
  it("keeps the first frame's boxes, clipped to the frame, with labels and scores", () => {
    const boxes = frameBoxes(
      [
        { box: [10, 20, 110, 70], label: "car", score: 0.876, frame_index: 2 },
        { box: [300, 150, 200, 100], label: "person", frame_index: 2 }, // corners given the other way round
        { box: [-5, -5, 30, 30], text: "AB123", frame_index: 2 }, // cut by the frame edge
        { box: [1, 1, 5, 5], label: "car", frame_index: 3 }, // a later frame of the segment
        { box: [400, 10, 500, 50], label: "car", frame_index: 2 }, // wholly outside a 320-wide frame
        { box: [1, 2, 3], label: "bad", frame_index: 2 },
      ],
      320,
      180,
    );
    expect(boxes.map(({ x, y, width, height, label }) => [x, y, width, height, label])).toEqual([
      [10, 20, 100, 50, "car 0.88"],
      [200, 100, 100, 50, "person"],
      [0, 0, 30, 30, "AB123"],
    ]);
    expect(boxes[0].color).toBe(colorOf("car"));
    expect(frameBoxes([{ box: [1, 1, 5, 5], frame_index: 0 }], 0, 0)).toEqual([]);
    // the frame shown is the segment's first: a later frame's boxes are not drawn on it
    expect(frameBoxes([{ box: [1, 1, 5, 5], label: "car", frame_index: 3 }], 320, 180, 0)).toEqual([]);
    expect(frameBoxes([{ box: [1, 1, 5, 5], label: "car", frame_index: 3 }], 320, 180, 3)).toHaveLength(1);
  });

  it("draws the boxes over the bare frame once it has loaded, in the frame's pixels", async () => {
    setToken("s3cret");
    const latest: ResultRecord = {
      seq: 3,
      kind: "result",
      task_id: 9,
      image: "/api/results/car/frames/3.jpg",
      frame_index: 30,
      objects: [
        { box: [100, 50, 300, 200], label: "car", score: 0.9, frame_index: 30 },
        { box: [400, 100, 500, 180], label: "car", score: 0.7, frame_index: 30 },
        { box: [10, 10, 20, 20], label: "car", score: 0.6, frame_index: 32 },
      ],
    };
    const view: ViewSpec = { id: "frame", name: "Frame", type: "image", variables: ["image"], size: 1 };
    const wrapper = mount(ResultView, { props: { view, records: [latest], latest, snapshots: [], nodes: [] } });
    const img = wrapper.get("img");
    expect(img.attributes("src")).toBe("/api/results/car/frames/3.jpg?boxes=false&token=s3cret");
    expect(wrapper.find("[data-test=boxes]").exists()).toBe(false); // no size yet: nothing drawn at a guess
    Object.defineProperty(img.element, "naturalWidth", { value: 768 });
    Object.defineProperty(img.element, "naturalHeight", { value: 432 });
    await img.trigger("load");
    expect(wrapper.get("[data-test=boxes]").attributes("viewBox")).toBe("0 0 768 432");
    const rects = wrapper.findAll("[data-test=box] rect").map((r) => ["x", "y", "width", "height"].map((a) => r.attributes(a)));
    expect(rects).toEqual([
      ["100", "50", "200", "150"],
      ["400", "100", "100", "80"],
    ]);
    expect(wrapper.findAll("[data-test=box] text").map((t) => t.text())).toEqual(["car 0.90", "car 0.70"]);
  });
});

describe("accuracy without ground truth", () => {
  const golden: ResultRecord = { seq: 1, kind: "result", accuracy: { f1: 0.8 }, accuracy_reference: "golden", finished_at: 1 };

  it("says the figure is relative to the golden configuration", () => {
    expect(accuracyReference("golden")).toContain("golden configuration");
    expect(accuracyReference("ground_truth")).toBe("against ground truth");
    expect(accuracyReference(null)).toBeNull();
    expect(resultSeries([golden], "accuracy").map((s) => s.name)).toEqual(["f1 (vs golden config)"]);
    expect(resultSeries([{ ...golden, accuracy_reference: "ground_truth" }], "accuracy").map((s) => s.name)).toEqual(["f1"]);
  });

  it("shows the reference beside an accuracy view", () => {
    // A table: charts need a canvas, which jsdom lacks.
    const view: ViewSpec = { id: "acc", name: "Accuracy", type: "table", variables: ["accuracy"], size: 1 };
    const wrapper = mount(ResultView, { props: { view, records: [golden], latest: golden, snapshots: [], nodes: [] } });
    expect(wrapper.get("[data-test=accuracy-reference]").text()).toContain("relative to the golden configuration");
  });
});
