// The backend token, kept for this browser session only (sessionStorage), and the signed-in state.
import { ref } from "vue";

const KEY = "dayu.token";

function read(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export const token = ref<string | null>(read());
/** Why the user was signed out (shown on the sign-in page), e.g. a token the backend stopped accepting. */
export const signOutReason = ref<string | null>(null);

export function setToken(value: string): void {
  token.value = value;
  sessionStorage.setItem(KEY, value);
  signOutReason.value = null;
}

export function clearToken(reason: string | null = null): void {
  token.value = null;
  sessionStorage.removeItem(KEY);
  signOutReason.value = reason;
}
