// A thin typed client over the backend API: paths and request bodies come from the generated schema.
import createClient, { type Middleware } from "openapi-fetch";
import { clearToken, token } from "./auth";
import type { paths } from "./schema";

/** An error answered by the backend (`{"error": {"code", "message", "detail"}}`) or a failed request. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string = "error",
    readonly detail: unknown = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface ErrorBody {
  error?: { code?: string; message?: string; detail?: unknown };
  detail?: unknown;
}

/** The ApiError for a response body the backend sent with a non-2xx status. */
export function errorFrom(status: number, body: unknown): ApiError {
  const shaped = (body ?? {}) as ErrorBody;
  if (shaped.error?.message) {
    return new ApiError(shaped.error.message, status, shaped.error.code ?? "error", shaped.error.detail ?? null);
  }
  if (Array.isArray(shaped.detail)) {
    // FastAPI's own request validation errors: [{loc, msg}]
    const parts = (shaped.detail as { loc?: unknown[]; msg?: string }[]).map(
      (d) => `${(d.loc ?? []).slice(1).join(".")}: ${d.msg ?? "invalid"}`,
    );
    return new ApiError(parts.join("; "), status, "invalid_input", shaped.detail);
  }
  const text = typeof body === "string" && body ? body.slice(0, 200) : `the backend answered ${status}`;
  return new ApiError(text, status);
}

export function authHeaders(): Record<string, string> {
  return token.value ? { Authorization: `Bearer ${token.value}` } : {};
}

const auth: Middleware = {
  onRequest({ request }) {
    if (token.value) request.headers.set("Authorization", `Bearer ${token.value}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && token.value) {
      clearToken("The backend no longer accepts this token; sign in again.");
    }
    return response;
  },
};

export const client = createClient<paths>({ baseUrl: "" });
client.use(auth);

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Await an openapi-fetch call and return its data, or throw an ApiError with the backend's message. */
export async function call<T>(request: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await request;
  } catch (exc) {
    throw new ApiError(`cannot reach the backend: ${(exc as Error).message}`, 0, "network");
  }
  if (!result.response.ok) throw errorFrom(result.response.status, result.error);
  return result.data as T;
}

/** A file download (exports) through fetch, so the token travels in a header, saved under its own name. */
export async function download(url: string, fallbackName: string): Promise<number> {
  let response: Response;
  try {
    response = await fetch(url, { headers: authHeaders() });
  } catch (exc) {
    throw new ApiError(`cannot reach the backend: ${(exc as Error).message}`, 0, "network");
  }
  if (!response.ok) {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    throw errorFrom(response.status, body);
  }
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  return blob.size;
}

/** A URL for <img> tags, which cannot send headers: the backend accepts the token as a query on reads. */
export function withToken(url: string): string {
  if (!token.value) return url;
  return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token.value)}`;
}
