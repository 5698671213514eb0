// Live results of one source: the latest records (bounded), followed over SSE, delivered in batches.
import { onBeforeUnmount, ref, shallowRef, watch, type Ref } from "vue";
import { call, client } from "../api/client";
import type { ResultPage, ResultRecord } from "../api/types";
import { Batcher } from "./batcher";
import { RingBuffer } from "./buffer";
import { compact } from "./series";
import { follow } from "./sse";

export const MAX_RECORDS = 600; // per source; at 5 fps and 4 frames per segment about 8 minutes
export const MAX_DROPS = 200;
export const FLUSH_MS = 1000;

export function useResultStream(source: Ref<string | null>) {
  const records = new RingBuffer<ResultRecord>(MAX_RECORDS);
  const drops = new RingBuffer<ResultRecord>(MAX_DROPS);
  const latest = shallowRef<ResultRecord | null>(null);
  const version = ref(0); // bumped once per delivered batch: what the charts watch
  const state = ref<string>("idle");
  const error = ref<string | null>(null);
  const received = ref(0);
  let cursor = 0;
  let stream: { close: () => void } | null = null;
  let batcher: Batcher<ResultRecord> | null = null;

  function take(batch: ResultRecord[]): void {
    for (const record of batch) {
      const seq = record.seq ?? 0;
      if (seq <= cursor) continue; // a reconnect's overlap
      cursor = Math.max(cursor, seq);
      if (record.kind === "drop") drops.push(record);
      const previous = latest.value;
      if (record.kind === "result") {
        if (previous) records.push(compact(previous));
        latest.value = record;
      } else {
        records.push(record);
      }
    }
    received.value += batch.length;
    version.value += 1;
  }
  async function start(id: string): Promise<void> {
    stop();
    records.clear();
    drops.clear();
    latest.value = null;
    cursor = 0;
    received.value = 0;
    error.value = null;
    state.value = "loading";
    try {
      const page: ResultPage = await call(
        client.GET("/api/results/{source_id}", { params: { path: { source_id: id }, query: { tail: 300 } } }),
      );
      take(page.records);
      cursor = Math.max(cursor, page.cursor ?? 0);
    } catch (exc) {
      error.value = (exc as Error).message;
      state.value = "failed";
      return;
    }
    if (source.value !== id) return;
    batcher = new Batcher<ResultRecord>(take, { intervalMs: FLUSH_MS, maxPending: MAX_RECORDS });
    const b = batcher;
    stream = follow({
      url: () => `/api/results/${encodeURIComponent(id)}/stream?after=${cursor}`,
      onEvent: (event) => {
        if (event.event === "result") b.push(JSON.parse(event.data) as ResultRecord);
        else if (event.event === "error") error.value = (JSON.parse(event.data) as { message: string }).message;
      },
      onState: (s, message) => {
        state.value = s;
        if (s === "open") error.value = null;
        if (message && (s === "failed" || s === "retrying")) error.value = message;
      },
    });
  }

  function stop(): void {
    stream?.close();
    stream = null;
    batcher?.stop();
    batcher = null;
  }

  watch(source, (id) => (id ? void start(id) : stop()), { immediate: true });
  onBeforeUnmount(stop);

  return {
    /** Every record kept, oldest first, the latest result included. */
    all: (): ResultRecord[] => {
      const out = records.toArray();
      if (latest.value) out.push(latest.value);
      return out;
    },
    drops: () => drops.toArray(),
    latest,
    version,
    state,
    error,
    received,
    restart: () => source.value && void start(source.value),
  };
}
