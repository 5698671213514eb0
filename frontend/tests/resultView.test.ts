import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import type { ResultRecord, ViewSpec } from "../src/api/types";
import { setToken } from "../src/api/auth";
import ResultView from "../src/components/ResultView.vue";

const latest: ResultRecord = {
  seq: 12,
  kind: "result",
  task_id: 5,
  image: "/api/results/cam0/frames/12.jpg",
  objects: [
    { box: [1, 2, 3, 4], label: "face", frame_index: 0 },
    { box: [5, 6, 7, 8], text: "AB123", frame_index: 0 },
    { box: [5, 6, 7, 8], label: "face", frame_index: 1 },
  ],
};

describe("result views", () => {
  it("shows the latest frame with the token and the labels of its first frame", () => {
    setToken("s3cret");
    const view: ViewSpec = { id: "frame", name: "Frame", type: "image", variables: ["image"], size: 1 };
    const wrapper = mount(ResultView, { props: { view, records: [latest], latest, snapshots: [], nodes: [] } });
    expect(wrapper.get("img").attributes("src")).toBe("/api/results/cam0/frames/12.jpg?boxes=false&token=s3cret");
    expect(wrapper.text()).toContain("2 objects: face, AB123");
  });

  it("lists drop reasons in a table view, newest first", () => {
    const view: ViewSpec = { id: "drops", name: "Drops", type: "table", variables: ["reason"], size: 1 };
    const records: ResultRecord[] = [
      { seq: 1, kind: "drop", reason: "queue_full" },
      { seq: 2, kind: "drop", reason: "join_timeout" },
    ];
    const wrapper = mount(ResultView, { props: { view, records, latest: null, snapshots: [], nodes: [] } });
    const rows = wrapper.findAll("tbody tr").map((r) => r.text());
    expect(rows).toEqual(["2join_timeout", "1queue_full"]);
  });

  it("waits visibly when a chart has no data", () => {
    const view: ViewSpec = { id: "delay", name: "Delay", type: "curve", variables: ["delay"], size: 1 };
    const wrapper = mount(ResultView, { props: { view, records: [], latest: null, snapshots: [], nodes: [] } });
    expect(wrapper.text()).toContain("Waiting for data");
  });
});
