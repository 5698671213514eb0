// Loading, error and data of one backend read, optionally polled while the page is open.
import { onBeforeUnmount, ref, shallowRef, type Ref, type ShallowRef } from "vue";

export interface Resource<T> {
  data: ShallowRef<T | null>;
  error: Ref<string | null>;
  loading: Ref<boolean>;
  reload: () => Promise<void>;
}

export function useResource<T>(loader: () => Promise<T>, options: { pollMs?: number } = {}): Resource<T> {
  const data = shallowRef<T | null>(null);
  const error = ref<string | null>(null);
  const loading = ref(false);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let inFlight = false;

  async function reload(): Promise<void> {
    if (inFlight) return;
    inFlight = true;
    loading.value = true;
    try {
      data.value = await loader();
      error.value = null;
    } catch (exc) {
      error.value = (exc as Error).message;
    } finally {
      loading.value = false;
      inFlight = false;
    }
  }

  async function loop(): Promise<void> {
    await reload();
    if (!stopped && options.pollMs) timer = setTimeout(() => void loop(), options.pollMs);
  }

  void loop();
  onBeforeUnmount(() => {
    stopped = true;
    if (timer) clearTimeout(timer);
  });
  return { data, error, loading, reload };
}
