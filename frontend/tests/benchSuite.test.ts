// How the Bench page writes a merged figure: mean ± half the spread, in the figure's unit, and over how
// many runs when some runs lack the figure; the accuracy title names the case's reference.
import { describe, expect, it } from "vitest";
import type { BenchCase } from "../src/api/types";
import { heldOutText, stat, SUMMARY_FIGURES, value } from "../src/lib/benchSuite";

const CASE: BenchCase = {
  key: "step-drop--synthetic--face-detection",
  trace: "step-drop",
  clip: "synthetic",
  service: "face-detection",
  held_out: false,
  accuracy_reference: "ground_truth",
  seeds: [7, 8],
  duration_s: 70,
  slo_ms: 1000,
  policies: [],
  plots: [],
};

describe("bench suite figures", () => {
  it("writes the mean and half the spread in the figure's unit", () => {
    expect(stat({ mean: 0.91234, spread: 0.02, runs: 2 }, "f1", 2)).toBe("0.912 ± 0.010");
    expect(stat({ mean: 812.4, spread: 40, runs: 2 }, "ms", 2)).toBe("812 ± 20");
    expect(stat({ mean: 0.125, spread: 0.05, runs: 2 }, "share", 2)).toBe("12.5% ± 2.5%");
    expect(stat({ mean: 3.2, spread: null, runs: 1 }, "mb", 1)).toBe("3.20");
  });

  it("says over how many runs a figure some runs lack is, and nothing for none", () => {
    expect(stat({ mean: 12.5, spread: null, runs: 1 }, "mb", 2)).toBe("12.50 (1 of 2 runs)");
    expect(stat({ mean: null, spread: null, runs: 0 }, "mb", 2)).toBe("–");
    expect(value(null, "f1")).toBe("–");
  });

  it("names the reference in the accuracy title and marks held-out cases", () => {
    const title = SUMMARY_FIGURES[0].title;
    expect(title(CASE)).toBe("F1 vs ground truth");
    expect(title({ ...CASE, accuracy_reference: "golden" })).toBe("F1 vs golden");
    expect(title({ ...CASE, accuracy_reference: null })).toBe("F1 vs reference not recorded");
    expect(heldOutText(CASE)).toBe("tuned on");
    expect(heldOutText({ ...CASE, held_out: true })).toBe("held out");
  });
});
