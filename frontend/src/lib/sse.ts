// Server-Sent Events over fetch (not EventSource): the token travels in a header, the backend's error
// answers are readable, and a reconnect resumes after the last record seen instead of replaying.
import { authHeaders, errorFrom, ApiError } from "../api/client";

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Incremental parser of the text/event-stream format: feed chunks, get complete events. */
export class SseParser {
  private buffer = "";
  private event = "message";
  private data: string[] = [];
  private id: string | undefined;

  feed(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    let index: number;
    while ((index = this.buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, index);
      const sep = this.buffer.startsWith("\r\n", index) ? 2 : 1;
      this.buffer = this.buffer.slice(index + sep);
      if (line === "") {
        if (this.data.length) out.push({ event: this.event, data: this.data.join("\n"), id: this.id });
        this.event = "message";
        this.data = [];
        continue;
      }
      if (line.startsWith(":")) continue; // comment / keep-alive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
      else if (field === "id") this.id = value;
    }
    return out;
  }
}

export interface StreamHandlers {
  onEvent: (event: SseEvent) => void;
  onState?: (state: "connecting" | "open" | "retrying" | "failed" | "closed", message?: string) => void;
  /** The URL to (re)connect to; called at every attempt so it can carry the latest cursor. */
  url: () => string;
  maxAttempts?: number;
}

/** Follow an SSE URL until `close()`; reconnects with a bounded number of attempts (backoff up to 10 s). */
export function follow(handlers: StreamHandlers): { close: () => void } {
  const maxAttempts = handlers.maxAttempts ?? 20;
  let controller: AbortController | null = null;
  let closed = false;
  let attempts = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  async function connect(): Promise<void> {
    if (closed) return;
    handlers.onState?.("connecting");
    controller = new AbortController();
    try {
      const response = await fetch(handlers.url(), { headers: authHeaders(), signal: controller.signal });
      if (!response.ok || !response.body) {
        const text = await response.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* keep the text */
        }
        throw errorFrom(response.status, body);
      }
      handlers.onState?.("open");
      attempts = 0;
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.feed(value)) handlers.onEvent(event);
      }
      retry("the stream ended");
    } catch (exc) {
      if (closed) return;
      const error = exc as ApiError;
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
        handlers.onState?.("failed", error.message); // a 4xx will not heal by retrying
        return;
      }
      retry(error.message);
    }
  }

  function retry(message: string): void {
    if (closed) return;
    attempts += 1;
    if (attempts > maxAttempts) {
      handlers.onState?.("failed", `${message}; gave up after ${maxAttempts} attempts`);
      return;
    }
    handlers.onState?.("retrying", message);
    timer = setTimeout(() => void connect(), Math.min(10_000, 500 * 2 ** Math.min(attempts, 5)));
  }

  void connect();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      controller?.abort();
      handlers.onState?.("closed");
    },
  };
}
