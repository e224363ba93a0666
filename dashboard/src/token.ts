/**
 * The control token. `dsctl dashboard` opens `http://127.0.0.1:PORT/#token=…`: a URL fragment never travels to a
 * server, so the token stays out of request lines and logs. The page moves it into sessionStorage (this tab only,
 * gone when the tab closes) and removes it from the address bar and the history entry at once.
 */

const storageKey = "deploystack.control-token";

/** Takes the token from the fragment (then clears the fragment) or from this tab's storage. */
export function takeToken(): string | undefined {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromFragment = params.get("token");
  if (fromFragment) {
    sessionStorage.setItem(storageKey, fromFragment);
    history.replaceState(null, "", `${location.pathname}${location.search}`);
    return fromFragment;
  }
  return sessionStorage.getItem(storageKey) ?? undefined;
}

/** Remembers a token typed into the page. */
export function storeToken(token: string): void {
  sessionStorage.setItem(storageKey, token);
}

/** Forgets the token (the daemon refused it). */
export function forgetToken(): void {
  sessionStorage.removeItem(storageKey);
}
