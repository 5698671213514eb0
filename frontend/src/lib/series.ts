// From bounded record buffers to chart series: one function per kind of variable.
import type { ResultRecord, SystemSnapshot } from "../api/types";

export type Point = [number, number | null];
export interface Series {
  name: string;
  points: Point[];
}

const TIMING_PARTS = ["transmit", "queue", "service"] as const;

/** The x value of a record: when it finished (ms), else when it was created, else its sequence number. */
export function when(record: ResultRecord): number {
  const t = record.finished_at ?? record.created_at;
  return t ? t * 1000 : (record.seq ?? 0);
}

function numeric(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const match = /^(\d+(?:\.\d+)?)/.exec(value); // "720p" -> 720
    return match ? Number(match[1]) : null;
  }
  return null;
}

/** Series of one result variable: a number gives one line, a mapping one line per key. */
export function resultSeries(records: ResultRecord[], variable: string): Series[] {
  const results = records.filter((r) => r.kind === "result");
  if (variable === "stage_delay" || variable === "stage_timings") {
    // Per stage, the parts its delay is made of (transmit, queue, service), stacked by the chart.
    const out = new Map<string, Point[]>();
    for (const r of results) {
      for (const [stage, timings] of Object.entries(r.stage_timings ?? {})) {
        for (const part of TIMING_PARTS) {
          const name = `${stage} ${part}`;
          if (!out.has(name)) out.set(name, []);
          out.get(name)?.push([when(r), timings[part] ?? 0]);
        }
      }
    }
    return [...out].map(([name, points]) => ({ name, points }));
  }
  if (variable === "meta") {
    const knobs = ["resolution", "fps", "qp", "buffer_size"];
    return knobs
      .map((knob) => ({ name: knob, points: results.map((r): Point => [when(r), numeric((r.meta as Record<string, unknown> | null | undefined)?.[knob])]) }))
      .filter((s) => s.points.some(([, y]) => y !== null));
  }
  const out = new Map<string, Point[]>();
  for (const r of results) {
    const value = (r as unknown as Record<string, unknown>)[variable];
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, v] of Object.entries(value)) {
        if (!out.has(key)) out.set(key, []);
        out.get(key)?.push([when(r), numeric(v)]);
      }
    } else if (value !== undefined) {
      if (!out.has(variable)) out.set(variable, []);
      out.get(variable)?.push([when(r), numeric(value)]);
    }
  }
  if (variable === "accuracy") {
    // A figure without ground truth is only relative to the golden configuration: the series says so.
    const golden = results.some((r) => r.accuracy_reference === "golden");
    return [...out].map(([name, points]) => ({ name: golden ? `${name} (vs golden config)` : name, points }));
  }
  return [...out].map(([name, points]) => ({ name, points }));
}

/** Series of one system variable over snapshots: per node (queue lengths: per node and service). */
export function systemSeries(snapshots: SystemSnapshot[], variable: string): Series[] {
  const out = new Map<string, Point[]>();
  const add = (name: string, x: number, y: number | null): void => {
    if (!out.has(name)) out.set(name, []);
    out.get(name)?.push([x, y]);
  };
  for (const s of snapshots) {
    const x = s.at * 1000;
    const value = (s as unknown as Record<string, unknown>)[variable];
    if (variable === "queue_length" && value && typeof value === "object") {
      for (const [node, queues] of Object.entries(value as Record<string, Record<string, number> | null>)) {
        for (const [service, length] of Object.entries(queues ?? {})) add(`${node}/${service}`, x, numeric(length));
      }
    } else if (value && typeof value === "object") {
      for (const [node, v] of Object.entries(value as Record<string, unknown>)) add(node, x, numeric(v));
    } else {
      add(variable, x, numeric(value));
    }
  }
  return [...out].map(([name, points]) => ({ name, points }));
}

export const SYSTEM_VARIABLES = new Set(["cpu", "memory", "bandwidth", "queue_length", "scheduling_overhead"]);

/** Empirical CDF points of the non-null values (x: value, y: fraction <= x), at most `max` points. */
export function cdf(values: (number | null)[], max = 200): Point[] {
  const sorted = values.filter((v): v is number => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return [];
  const step = Math.max(1, Math.ceil(sorted.length / max));
  const out: Point[] = [];
  for (let i = step - 1; i < sorted.length; i += step) out.push([sorted[i], (i + 1) / sorted.length]);
  if (out[out.length - 1]?.[0] !== sorted[sorted.length - 1]) out.push([sorted[sorted.length - 1], 1]);
  return out;
}

/** Keep a record small once it is no longer the latest: boxes and texts only matter for the frame shown. */
export function compact(record: ResultRecord): ResultRecord {
  const { objects: _objects, texts: _texts, dag: _dag, critical_path: _path, ...rest } = record;
  return rest;
}
