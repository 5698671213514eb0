// The DAG editor's graph (canvas nodes and edges) <-> the backend's DAG description, and the backend's
// validation errors mapped back onto the graph element they name.
import type { DagInfo, DagSpec } from "../api/types";

export interface StageNode {
  id: string;
  position: { x: number; y: number };
  data: { name: string; service: string };
}

export interface StageEdge {
  id: string;
  source: string;
  target: string;
}

export interface Graph {
  nodes: StageNode[];
  edges: StageEdge[];
}

export const edgeId = (source: string, target: string): string => `e:${source}->${target}`;

/** The backend payload: one stage per node (ordered left to right), successors from the edges. */
export function toSpec(graph: Graph): DagSpec {
  const ordered = [...graph.nodes].sort((a, b) => a.position.x - b.position.x || a.position.y - b.position.y);
  const names = new Map(graph.nodes.map((n) => [n.id, n.data.name.trim()]));
  return {
    stages: ordered.map((node) => ({
      name: node.data.name.trim(),
      service: node.data.service,
      next: graph.edges.filter((e) => e.source === node.id).map((e) => names.get(e.target) ?? e.target),
    })),
    edges: [],
  };
}

/** A graph laid out in layers (longest path from the stages without predecessors). */
export function fromSpec(spec: DagInfo["spec"]): Graph {
  const stages = spec.stages;
  const next = new Map<string, string[]>(stages.map((s) => [s.name, [...(s.next ?? [])]]));
  for (const [a, b] of spec.edges ?? []) next.get(a)?.push(b);
  const layer = new Map<string, number>(stages.map((s) => [s.name, 0]));
  // Longest-path layering; bounded by the stage count so a cyclic description still terminates.
  for (let round = 0; round < stages.length; round += 1) {
    for (const [name, succs] of next) {
      for (const succ of succs) {
        if (layer.has(succ) && (layer.get(succ) ?? 0) < (layer.get(name) ?? 0) + 1) {
          layer.set(succ, (layer.get(name) ?? 0) + 1);
        }
      }
    }
  }
  const rows = new Map<number, number>();
  const ids = new Map<string, string>();
  const nodes: StageNode[] = stages.map((s, index) => {
    const l = layer.get(s.name) ?? 0;
    const row = rows.get(l) ?? 0;
    rows.set(l, row + 1);
    const id = `s${index + 1}`;
    ids.set(s.name, id);
    return { id, position: { x: 40 + l * 240, y: 40 + row * 110 }, data: { name: s.name, service: s.service } };
  });
  const edges: StageEdge[] = [];
  for (const [name, succs] of next) {
    for (const succ of succs) {
      const source = ids.get(name);
      const target = ids.get(succ);
      if (source && target) edges.push({ id: edgeId(source, target), source, target });
    }
  }
  return { nodes, edges };
}

/** A stage name for a new node of `service` that no other node has. */
export function uniqueName(graph: Graph, service: string): string {
  const taken = new Set(graph.nodes.map((n) => n.data.name));
  const base = service.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[^A-Za-z0-9]+/, "") || "stage";
  if (!taken.has(base)) return base;
  for (let i = 2; ; i += 1) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}

export interface GraphErrors {
  nodes: Record<string, string>;
  edges: Record<string, string>;
  /** The message, when no element of the graph could be named. */
  general: string | null;
}

interface ErrorLike {
  message: string;
  detail?: unknown;
}

/** Put the backend's DAG validation error on the stage or edge it names. */
export function mapError(error: ErrorLike, graph: Graph): GraphErrors {
  const out: GraphErrors = { nodes: {}, edges: {}, general: null };
  const byName = new Map(graph.nodes.map((n) => [n.data.name.trim(), n.id]));
  const edgeBetween = (a: string, b: string): string | undefined => {
    const source = byName.get(a);
    const target = byName.get(b);
    return graph.edges.find((e) => e.source === source && e.target === target)?.id;
  };
  const message = error.message;
  const detail = (error.detail ?? {}) as Record<string, unknown>;

  if (Array.isArray(detail.cycle)) {
    const cycle = detail.cycle as string[];
    cycle.forEach((name, i) => {
      const id = edgeBetween(name, cycle[(i + 1) % cycle.length]);
      if (id) out.edges[id] = message;
    });
  }
  // "edge 'a' -> 'b' ...", "duplicate edge 'a' -> 'b'", "edge 'a' -> 'b' is missing ..."
  const arrow = /'([^']+)' -> '([^']+)'/.exec(message);
  if (arrow && !Object.keys(out.edges).length) {
    const id = edgeBetween(arrow[1], arrow[2]);
    if (id) out.edges[id] = message;
  }
  // Type mismatch: "stage 'b' (svc) takes 'x' but 'a' (svc) produces 'y'": the edge a -> b.
  const mismatch = /stage '([^']+)' \([^)]*\) takes '[^']*' but '([^']+)'/.exec(message);
  if (mismatch) {
    const id = edgeBetween(mismatch[2], mismatch[1]);
    if (id) out.edges[id] = message;
  }
  const stage = typeof detail.stage === "string" ? detail.stage : null;
  if (stage && byName.has(stage) && !Object.keys(out.edges).length) out.nodes[byName.get(stage) as string] = message;

  // Request validation (422): [{loc: ["body", "stages", "stages", i, field], msg}]
  if (Array.isArray(error.detail)) {
    const ordered = toSpec(graph).stages;
    for (const item of error.detail as { loc?: (string | number)[]; msg?: string }[]) {
      const loc = item.loc ?? [];
      const index = loc.findIndex((p, i) => p === "stages" && typeof loc[i + 1] === "number");
      if (index >= 0) {
        const stageSpec = ordered[loc[index + 1] as number];
        const id = stageSpec ? byName.get(stageSpec.name) : undefined;
        if (id) out.nodes[id] = `${String(loc[index + 2] ?? "stage")}: ${item.msg ?? "invalid"}`;
      }
    }
  }
  if (!Object.keys(out.nodes).length && !Object.keys(out.edges).length) out.general = message;
  return out;
}
