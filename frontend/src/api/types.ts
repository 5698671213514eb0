// Shapes of the backend's answers that the dashboard reads. Request bodies and paths are typed from the
// generated schema (schema.d.ts); answers the backend still declares as free-form objects are named here.
import type { components } from "./schema";

export type InstallRequest = components["schemas"]["InstallRequest"];
export type DagSpec = components["schemas"]["DagSpec"];
export type StageSpec = components["schemas"]["StageSpec"];
export type PolicyBench = components["schemas"]["PolicyBench"];

export interface Policy {
  id: string;
  name: string;
  description: string;
  default?: boolean;
}

export interface Service {
  id: string;
  name: string;
  description: string;
  input: string;
  output: string;
}

export interface NodeInfo {
  name: string;
  role: string;
  arch?: string | null;
  labels?: Record<string, string>;
  /** Fractions 0-1 of the node's CPU and memory, when installed. */
  cpu?: number | null;
  memory?: number | null;
}

export interface DagInfo {
  name: string;
  spec: DagSpec;
  dag: Record<string, { service: string; next: string[] }>;
}

export interface DatasourceSource {
  id: string;
  name?: string;
  mode?: string;
  dataset?: string | null;
  url?: string | null;
  node_candidates?: string[];
}

export interface Datasource {
  id: string;
  file_name?: string;
  created?: number;
  config?: { name: string; description?: string; sources: DatasourceSource[] };
  open?: boolean;
  installed?: boolean;
  [key: string]: unknown;
}

export interface UploadResult {
  file: string;
  ok: boolean;
  id?: string;
  sources?: string[];
  error?: string;
  detail?: unknown;
}

export interface ProgressEntry {
  at: number;
  step: string;
  message: string;
}

export interface ErrorInfo {
  code?: string;
  message: string;
  detail?: unknown;
}

export interface InstallState {
  phase: string;
  step?: string | null;
  policy?: string | null;
  datasource?: string | null;
  sources?: { source_id: string; dag: string; nodes: string[] }[];
  ready?: string | null;
  progress?: ProgressEntry[];
  placement?: Record<string, string>;
  deployment?: Record<string, string[]>;
  error?: ErrorInfo | null;
  started?: number;
  installed_at?: number;
  run_id?: string;
  request?: InstallRequest | null;
}

export interface Instance {
  name: string;
  component: string;
  node: string;
  service?: string | null;
  source_id?: string | null;
  ready: boolean;
  phase?: string;
  age_s?: number | null;
  /** CPU use in cores. */
  cpu?: number | null;
  memory_mb?: number | null;
  message?: string;
}

export interface QueryState {
  open: boolean;
  sources: string[];
  since?: number;
}

export interface SourceInfo {
  source_id: string;
  dag: string;
  nodes: string[];
  node?: string | null;
  open: boolean;
}

export interface ViewSpec {
  id: string;
  name: string;
  type: "image" | "curve" | "cdf" | "bar" | "topology" | "table";
  variables: string[];
  size?: number;
}

export interface ViewCatalog {
  result: ViewSpec[];
  system: ViewSpec[];
}

export interface SourceViews {
  source_id: string;
  custom: boolean;
  views: ViewSpec[];
}

export interface StageTimings {
  transmit?: number | null;
  queue?: number | null;
  service?: number | null;
  execute?: number | null;
}

export interface DetectedObject {
  box?: number[];
  label?: string | null;
  text?: string | null;
  score?: number | null;
  frame_index?: number | null;
}

/** One result or drop record with its visualization variables (backend/views.py). */
export interface ResultRecord {
  seq: number;
  kind: "result" | "drop";
  source_id?: string;
  task_id?: number | null;
  reason?: string | null;
  delay?: number;
  frame_delay?: number;
  critical_path?: string[];
  stage_delay?: Record<string, number>;
  stage_timings?: Record<string, StageTimings>;
  object_count?: number;
  objects?: DetectedObject[];
  texts?: string[];
  accuracy?: number | null;
  offloading?: Record<string, string | null>;
  deployment?: Record<string, string[]>;
  meta?: Record<string, unknown>;
  image?: string;
  created_at?: number | null;
  finished_at?: number | null;
  dag?: Record<string, { service: string; next: string[]; node?: string | null }>;
}

export interface ResultPage {
  records: ResultRecord[];
  cursor: number;
}

export interface SystemSnapshot {
  at: number;
  cpu: Record<string, number | null>;
  memory: Record<string, number | null>;
  bandwidth: Record<string, number | null>;
  queue_length: Record<string, Record<string, number> | null>;
  scheduling_overhead: number | null;
}
