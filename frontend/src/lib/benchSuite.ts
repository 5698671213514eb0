// How the policy benchmark's suite is written on the Bench page: which figures the summary compares, their
// units, and the text of a mean with its spread. The backend merges the seeds (GET /api/bench/policies);
// nothing is computed here beyond halving the spread for "±".
import type { BenchCase, BenchRun, CaseFigures, FigureStat } from "../api/types";

export type Unit = "f1" | "ms" | "mb" | "share";

export interface SummaryFigure {
  key: keyof CaseFigures;
  unit: Unit;
  /** Column title under the case; accuracy names the case's reference. */
  title: (c: BenchCase) => string;
}

/** What the summary compares per case: accuracy, delay, bytes on the link (probes included, and apart), drops. */
export const SUMMARY_FIGURES: SummaryFigure[] = [
  { key: "accuracy_f1", unit: "f1", title: (c) => `F1 vs ${referenceName(c.accuracy_reference)}` },
  { key: "latency_ms_p95", unit: "ms", title: () => "p95 ms" },
  { key: "link_mbytes", unit: "mb", title: () => "link MB" },
  { key: "probe_mbytes", unit: "mb", title: () => "of which probe MB" },
  { key: "drop_rate", unit: "share", title: () => "drops" },
];

const DIGITS: Record<Exclude<Unit, "share">, number> = { f1: 3, ms: 0, mb: 2 };

/** One value in its unit ("–" when unknown); a share as a percentage. */
export function value(v: number | null | undefined, unit: Unit): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return unit === "share" ? `${(v * 100).toFixed(1)}%` : v.toFixed(DIGITS[unit]);
}

/** Mean ± half the spread (max − min) over the seeds, and how many runs had the figure when not all did. */
export function stat(s: FigureStat | undefined, unit: Unit, runs: number): string {
  if (!s || s.mean === null) return "–";
  let text = value(s.mean, unit);
  if (s.spread !== null) text += ` ± ${value(s.spread / 2, unit)}`;
  if (s.runs < runs) text += ` (${s.runs} of ${runs} runs)`;
  return text;
}

export function referenceName(reference: BenchCase["accuracy_reference"]): string {
  if (reference === "ground_truth") return "ground truth";
  if (reference === "golden") return "golden";
  return "reference not recorded";
}

export function caseTitle(c: BenchCase): string {
  return `${c.trace} · ${c.clip ?? "clip not recorded"} / ${c.service ?? "service not recorded"}`;
}

export function heldOutText(c: BenchCase): string {
  if (c.held_out === true) return "held out";
  if (c.held_out === false) return "tuned on";
  return "held out: not recorded";
}

export interface RunColumn {
  title: string;
  unit: Unit | "int";
  get: (r: BenchRun) => number | null | undefined;
  /** The F1 against this reference: left out where it is the case's own (shown first already). */
  reference?: BenchCase["accuracy_reference"];
}

/** Per-run columns of a case's drill-down, after its seed and its F1 against the case's reference. */
export const RUN_COLUMNS: RunColumn[] = [
  { title: "clip from frame", unit: "int", get: (r) => r.clip_offset_frames },
  { title: "trace from s", unit: "int", get: (r) => r.trace_phase_s },
  { title: "F1 vs ground truth", unit: "f1", get: (r) => r.accuracy_f1_ground_truth, reference: "ground_truth" },
  { title: "F1 vs golden", unit: "f1", get: (r) => r.accuracy_f1_golden, reference: "golden" },
  { title: "p50 ms", unit: "ms", get: (r) => r.latency_ms_p50 },
  { title: "p95 ms", unit: "ms", get: (r) => r.latency_ms_p95 },
  { title: "SLO viol.", unit: "share", get: (r) => r.slo_violation_rate },
  { title: "link MB", unit: "mb", get: (r) => r.link_mbytes },
  { title: "probe MB", unit: "mb", get: (r) => r.probe_mbytes },
  { title: "drops", unit: "share", get: (r) => r.drop_rate },
  { title: "tasks", unit: "int", get: (r) => r.tasks },
];

export function runColumns(c: BenchCase): RunColumn[] {
  return RUN_COLUMNS.filter((col) => col.reference === undefined || col.reference !== c.accuracy_reference);
}

export function cell(v: number | null | undefined, unit: Unit | "int"): string {
  if (unit !== "int") return value(v, unit);
  return v === null || v === undefined ? "–" : String(Math.round(v * 10) / 10);
}
