// The install state, read once and then followed over SSE (/api/install/events): the backend pushes every
// change (a component going down makes it `degraded`, its restart `installed` again). While the stream is
// down the state is polled instead, until the stream is back.
import { onBeforeUnmount } from "vue";
import { call, client } from "../api/client";
import type { InstallState } from "../api/types";
import { follow } from "./sse";
import { useResource, type Resource } from "./useResource";

export const FALLBACK_POLL_MS = 3000;

export function useInstallState(): Resource<InstallState> {
  const resource = useResource(() => call(client.GET("/api/install")));
  let timer: ReturnType<typeof setInterval> | null = null;

  function poll(on: boolean): void {
    if (on && !timer) timer = setInterval(() => void resource.reload(), FALLBACK_POLL_MS);
    if (!on && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  const stream = follow({
    url: () => "/api/install/events",
    maxAttempts: 1000, // a backend restart takes a while; polling covers the gap meanwhile
    onEvent(event) {
      if (event.event !== "install") return;
      resource.data.value = JSON.parse(event.data) as InstallState;
      resource.error.value = null;
    },
    onState(state) {
      poll(state === "retrying" || state === "failed");
    },
  });
  onBeforeUnmount(() => {
    stream.close();
    poll(false);
  });
  return resource;
}
