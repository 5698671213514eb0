import { describe, expect, it } from "vitest";
import { barOption, lineOption, pointCount } from "../src/lib/charts";

describe("points a chart draws", () => {
  it("counts every series' points (what each chart reports in data-points)", () => {
    const option = lineOption([
      { name: "cam0", points: [[1, 1], [2, null], [3, 3]] },
      { name: "cam1", points: [[1, 2]] },
    ]);
    expect(pointCount(option)).toBe(4);
    expect(pointCount(barOption([["a", 1], ["b", null]]))).toBe(2);
    expect(pointCount(lineOption([]))).toBe(0);
  });
});
