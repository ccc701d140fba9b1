// The public API over fetch: bearer tokens kept in sessionStorage, refreshed once when the access token expires.

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.reason = body && body.reason;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

export function createApi(storageKey, onSignedOut = () => {}) {
  let tokens = JSON.parse(sessionStorage.getItem(storageKey) || "null");
  let refreshing = null;

  function save(next) {
    tokens = next;
    if (next) sessionStorage.setItem(storageKey, JSON.stringify(next));
    else sessionStorage.removeItem(storageKey);
  }

  async function send(method, path, body, bearer) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
    if (!response.ok) {
      const retry = Number(response.headers.get("Retry-After")) || undefined;
      throw new ApiError(response.status, data, retry);
    }
    return data;
  }

  async function refresh() {
    // one refresh at a time, whoever asks
    if (!refreshing) {
      refreshing = send("POST", "/api/v1/auth/refresh", undefined, tokens.refresh_token)
        // the refresh token is spent by its use: keep the next one (sending a spent one again ends the session)
        .then((fresh) => save({ ...tokens, access_token: fresh.access_token, refresh_token: fresh.refresh_token || tokens.refresh_token,
                                expires_at: Date.now() + fresh.expires_in * 1000 }))
        .finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  async function call(method, path, body) {
    if (!tokens) return send(method, path, body);
    if (tokens.expires_at && Date.now() > tokens.expires_at - 30_000) {
      try { await refresh(); } catch { signOut(); throw new ApiError(401, { message: "session expired" }); }
    }
    try {
      return await send(method, path, body, tokens.access_token);
    } catch (error) {
      if (error.status !== 401 || !tokens.refresh_token) throw error;
      try { await refresh(); } catch { signOut(); throw error; }
      return send(method, path, body, tokens.access_token);
    }
  }

  async function login(email, password) {
    const answer = await send("POST", "/api/v1/auth/login", { email, password });
    save({ access_token: answer.access_token, refresh_token: answer.refresh_token,
           expires_at: Date.now() + answer.expires_in * 1000 });
    return answer;
  }

  function signOut() {
    const held = tokens;
    save(null);
    if (held) send("POST", "/api/v1/auth/logout", { refresh_token: held.refresh_token }, held.access_token).catch(() => {});
    onSignedOut();
  }

  return {
    get signedIn() { return Boolean(tokens); },
    // for what cannot send a header (EventSource takes it as ?access_token=)
    get accessToken() { return tokens?.access_token; },
    login, signOut,
    get: (path) => call("GET", path),
    post: (path, body) => call("POST", path, body ?? {}),
    del: (path) => call("DELETE", path),
    signup: (body) => send("POST", "/api/v1/auth/signup", body),
  };
}
