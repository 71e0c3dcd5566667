// The API client: every call carries the bearer token; an error keeps only the API's code and message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The API's root: the page's own URL without "dashboard" (a deployed stage keeps its prefix, e.g. /prod/).
export function apiBase(href = location.href) {
  const url = new URL(href);
  url.hash = "";
  url.search = "";
  url.pathname = url.pathname.replace(/dashboard\/?$/, "");
  return url;
}

async function apiError(response) {
  let code = "http_error";
  let message = `the API answered ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch {
    // not JSON: keep the status line only
  }
  return new ApiError(response.status, code, message);
}

// onUnauthorized(): called when the API answers 401 (the token expired, about an hour after signing in)
export function createApi(token, base = apiBase(), { onUnauthorized } = {}) {
  async function call(method, path, { query, json, csv } = {}) {
    const url = new URL(path, base);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    const headers = { Authorization: `Bearer ${token}` };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (csv !== undefined) {
      headers["Content-Type"] = "text/csv";
      body = csv;
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body, cache: "no-store", credentials: "omit" });
    } catch {
      throw new ApiError(0, "network", "the API could not be reached");
    }
    if (response.status === 401 && onUnauthorized) {
      onUnauthorized();
      throw new ApiError(401, "signed_out", "Your sign-in has expired or was refused. Sign in again.");
    }
    if (!response.ok) throw await apiError(response);
    return response;
  }
  return {
    get: (path, query) => call("GET", path, { query }).then((r) => r.json()),
    post: (path, json) => call("POST", path, { json }).then((r) => r.json()),
    raw: (method, path, options) => call(method, path, options),
  };
}
