// ECharts options for the dashboard's views (no animation: live data redraws every second).
import type { EChartsOption } from "./echarts";
import type { Point, Series } from "./series";

const base = {
  animation: false,
  grid: { left: 48, right: 16, top: 30, bottom: 28 },
  tooltip: { trigger: "axis" as const, confine: true },
};

export function lineOption(series: Series[], opts: { stacked?: boolean; yName?: string } = {}): EChartsOption {
  return {
    ...base,
    legend: { type: "scroll", top: 0, textStyle: { fontSize: 11 } },
    xAxis: { type: "time", axisLabel: { hideOverlap: true, fontSize: 10 } },
    yAxis: { type: "value", name: opts.yName, nameTextStyle: { fontSize: 11 } },
    series: series.map((s) => ({
      name: s.name,
      type: "line",
      data: s.points,
      showSymbol: false,
      connectNulls: false,
      sampling: "lttb",
      stack: opts.stacked ? "total" : undefined,
      areaStyle: opts.stacked ? { opacity: 0.6 } : undefined,
      lineStyle: { width: opts.stacked ? 0.5 : 1.5 },
    })),
  };
}

export function cdfOption(series: { name: string; points: Point[] }[], xName?: string): EChartsOption {
  return {
    ...base,
    legend: { top: 0, textStyle: { fontSize: 11 } },
    xAxis: { type: "value", name: xName, scale: true },
    yAxis: { type: "value", min: 0, max: 1 },
    series: series.map((s) => ({ name: s.name, type: "line", step: "end", data: s.points, showSymbol: false })),
  };
}

export function barOption(entries: [string, number | null][], yName?: string): EChartsOption {
  return {
    ...base,
    tooltip: { trigger: "item", confine: true },
    xAxis: { type: "category", data: entries.map(([k]) => k), axisLabel: { fontSize: 10, interval: 0, rotate: entries.length > 4 ? 20 : 0 } },
    yAxis: { type: "value", name: yName },
    series: [{ type: "bar", data: entries.map(([, v]) => v), barMaxWidth: 40 }],
  };
}

export interface TopologyStage {
  name: string;
  service: string;
  node: string | null;
  next: string[];
}

/** Where each stage ran: nodes are columns, stages sit in the column of the node that ran them. */
export function topologyOption(stages: TopologyStage[], nodes: string[], deployment: Record<string, string[]>): EChartsOption {
  const columns = [...new Set([...nodes, ...stages.map((s) => s.node ?? "?")])];
  const rowOf = new Map<string, number>();
  const data = stages.map((s) => {
    const col = columns.indexOf(s.node ?? "?");
    const row = rowOf.get(s.node ?? "?") ?? 0;
    rowOf.set(s.node ?? "?", row + 1);
    const sentinel = s.name.startsWith("_");
    return {
      name: s.name,
      x: col * 200 + 100,
      y: row * 70 + 80,
      symbol: "roundRect",
      symbolSize: sentinel ? [70, 26] : [130, 34],
      itemStyle: { color: sentinel ? "#cbd2d9" : "#1f6feb" },
      label: { show: true, color: sentinel ? "#1f2933" : "#fff", fontSize: 11, formatter: sentinel ? s.name : `${s.name}` },
      tooltip: { formatter: `${s.name} (${s.service}) on ${s.node ?? "?"}; ${s.service} deployed on ${(deployment[s.service] ?? []).join(", ") || "–"}` },
    };
  });
  const headers = columns.map((node, i) => ({
    name: `node:${node}`,
    x: i * 200 + 100,
    y: 20,
    symbol: "rect",
    symbolSize: [150, 22],
    itemStyle: { color: "#eef0f3" },
    label: { show: true, color: "#1f2933", fontWeight: "bold" as const, formatter: node },
  }));
  const links = stages.flatMap((s) => s.next.map((t) => ({ source: s.name, target: t })));
  return {
    animation: false,
    tooltip: { trigger: "item", confine: true },
    series: [
      {
        type: "graph",
        layout: "none",
        roam: false,
        data: [...headers, ...data],
        links,
        edgeSymbol: ["none", "arrow"],
        edgeSymbolSize: 8,
        lineStyle: { color: "#9aa5b1", width: 1.5, curveness: 0.1 },
      },
    ],
  };
}

/** Data points an option draws, over all its series. */
export function pointCount(option: EChartsOption): number {
  const series = (option as { series?: unknown }).series;
  const list = Array.isArray(series) ? series : series ? [series] : [];
  let total = 0;
  for (const s of list) {
    const data = (s as { data?: unknown }).data;
    if (Array.isArray(data)) total += data.length;
  }
  return total;
}
