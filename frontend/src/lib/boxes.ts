// Detections drawn over a result's frame: the boxes of the first frame of the segment (the frame the backend
// serves), in that frame's pixels, each with its label and a colour per label.
import type { DetectedObject } from "../api/types";

export interface FrameBox {
  x: number;
  y: number;
  width: number;
  height: number;
  label: string;
  color: string;
}

const PALETTE = ["#22c55e", "#f97316", "#3b82f6", "#eab308", "#ec4899", "#14b8a6", "#a855f7", "#ef4444"];

/** The same label always gets the same colour, whatever order the boxes come in. */
export function colorOf(label: string): string {
  let hash = 0;
  for (const ch of label) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

function labelOf(o: DetectedObject): string {
  const name = o.text || o.label || "object";
  return typeof o.score === "number" ? `${name} ${o.score.toFixed(2)}` : name;
}

/** Boxes of the frame shown (``frameIndex``, its source index; unknown: the first object's frame), clipped to
 * a ``width`` x ``height`` frame; a box without four finite numbers or with no area inside the frame is skipped. */
export function frameBoxes(
  objects: DetectedObject[],
  width: number,
  height: number,
  frameIndex: number | null = null,
): FrameBox[] {
  if (!(width > 0 && height > 0)) return [];
  const first = frameIndex ?? objects[0]?.frame_index;
  const out: FrameBox[] = [];
  for (const o of objects) {
    if (o.frame_index !== first) continue;
    const box = o.box;
    if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => Number.isFinite(v))) continue;
    const x1 = Math.max(0, Math.min(box[0], box[2]));
    const y1 = Math.max(0, Math.min(box[1], box[3]));
    const x2 = Math.min(width, Math.max(box[0], box[2]));
    const y2 = Math.min(height, Math.max(box[1], box[3]));
    if (x2 <= x1 || y2 <= y1) continue;
    const label = labelOf(o);
    out.push({ x: x1, y: y1, width: x2 - x1, height: y2 - y1, label, color: colorOf(o.text ? "text" : (o.label ?? "object")) });
  }
  return out;
}

/** What an accuracy figure of a record is measured against, said for people. */
export function accuracyReference(reference: string | null | undefined): string | null {
  if (reference === "golden") return "relative to the golden configuration (no ground truth)";
  if (reference === "ground_truth") return "against ground truth";
  return null;
}
