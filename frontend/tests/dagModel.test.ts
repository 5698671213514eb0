import { describe, expect, it } from "vitest";
import { edgeId, fromSpec, mapError, toSpec, uniqueName, type Graph } from "../src/lib/dagModel";

function graph(): Graph {
  // detect forks into recognize and faces; both join at merge
  const node = (id: string, name: string, service: string, x: number, y = 0) => ({
    id,
    position: { x, y },
    data: { name, service },
  });
  const nodes = [
    node("a", "detect", "text-detection", 0),
    node("b", "recognize", "text-recognition", 200, 0),
    node("c", "faces", "face-detection", 200, 100),
    node("d", "merge", "text-recognition", 400),
  ];
  const edge = (s: string, t: string) => ({ id: edgeId(s, t), source: s, target: t });
  return { nodes, edges: [edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")] };
}

describe("editor graph -> backend DAG payload", () => {
  it("makes one stage per node with its successors by stage name (fork and join)", () => {
    expect(toSpec(graph())).toEqual({
      stages: [
        { name: "detect", service: "text-detection", next: ["recognize", "faces"] },
        { name: "recognize", service: "text-recognition", next: ["merge"] },
        { name: "faces", service: "face-detection", next: ["merge"] },
        { name: "merge", service: "text-recognition", next: [] },
      ],
      edges: [],
    });
  });

  it("uses the renamed stage names, trimmed", () => {
    const g = graph();
    g.nodes[1].data.name = "  read ";
    expect(toSpec(g).stages[0].next).toEqual(["read", "faces"]);
  });

  it("lays a stored DAG out in layers and converts back to the same payload", () => {
    const spec = toSpec(graph());
    const back = fromSpec({ ...spec, edges: [] });
    const x = Object.fromEntries(back.nodes.map((n) => [n.data.name, n.position.x]));
    expect(x.detect).toBeLessThan(x.recognize);
    expect(x.recognize).toBe(x.faces);
    expect(x.faces).toBeLessThan(x.merge);
    expect(toSpec(back)).toEqual(spec);
  });

  it("takes edges given as pairs too", () => {
    const g = fromSpec({ stages: [{ name: "a", service: "s" }, { name: "b", service: "s" }], edges: [["a", "b"]] });
    expect(g.edges).toHaveLength(1);
    expect(toSpec(g).stages[0].next).toEqual(["b"]);
  });

  it("names new stages after their service without clashes", () => {
    expect(uniqueName(graph(), "detect")).toBe("detect-2");
    expect(uniqueName(graph(), "pedestrian-detection")).toBe("pedestrian-detection");
  });
});

describe("backend validation errors on the graph", () => {
  it("puts a type mismatch on the edge between the two stages", () => {
    const message = "stage 'faces' (face-detection) takes 'frame' but 'detect' (text-detection) produces 'bbox'";
    const errors = mapError({ message, detail: { stage: "faces" } }, graph());
    expect(errors.edges).toEqual({ [edgeId("a", "c")]: message });
    expect(errors.nodes).toEqual({});
    expect(errors.general).toBeNull();
  });

  it("marks every edge of a cycle", () => {
    const g = graph();
    g.edges.push({ id: edgeId("d", "a"), source: "d", target: "a" });
    const errors = mapError({ message: "the DAG has a cycle", detail: { stage: "detect", cycle: ["detect", "recognize", "merge"] } }, g);
    expect(Object.keys(errors.edges).sort()).toEqual([edgeId("a", "b"), edgeId("b", "d"), edgeId("d", "a")].sort());
  });

  it("puts an unknown service on its stage", () => {
    const message = "stage 'merge' uses unknown service 'x'; known: face-detection";
    expect(mapError({ message, detail: { stage: "merge" } }, graph()).nodes).toEqual({ d: message });
  });

  it("maps request validation errors (422) to the stage at that index", () => {
    const detail = [{ loc: ["body", "stages", "stages", 2, "name"], msg: "String should match pattern" }];
    expect(mapError({ message: "invalid", detail }, graph()).nodes).toEqual({ c: "name: String should match pattern" });
  });

  it("keeps an error naming nothing on the graph as a general message", () => {
    const errors = mapError({ message: "a DAG named 'x' exists already", detail: { dag: "x" } }, graph());
    expect(errors.general).toBe("a DAG named 'x' exists already");
  });
});
