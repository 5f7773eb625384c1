// How the page reaches Murmur. Two transports, one page: in a browser it talks to the control
// API over HTTP with the token it was opened with (#token=… → session storage); in the desktop
// app's window it calls the same API over IPC (the `api` command), with no token in sight.

export const $ = (id) => document.getElementById(id);

export const TAURI = window.__TAURI_INTERNALS__;

function takeToken() {
  const match = location.hash.match(/token=([0-9a-f]+)/i);
  if (match) {
    sessionStorage.setItem("murmur-token", match[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("murmur-token");
}

let token = TAURI ? null : takeToken();
let onUnauthorized = () => {};

export function getToken() {
  return token;
}

export function setToken(value) {
  token = value;
  sessionStorage.setItem("murmur-token", value);
}

/** What to do when the token is refused (the page asks for another). */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

// The IPC answer as a fetch Response: the body's bytes on success, {status, body} otherwise.
async function ipc(path, options) {
  const body = options.body ? JSON.parse(options.body) : null;
  const type = path.startsWith("/murmur/api/speak-test") ? "audio/wav" : "application/json";
  try {
    const bytes = await TAURI.invoke("api", { method: options.method || "GET", path, body });
    return new Response(bytes, { status: 200, headers: { "Content-Type": type } });
  } catch (failure) {
    const status = failure && typeof failure.status === "number" ? failure.status : 500;
    const answer = failure && failure.body !== undefined ? failure.body : { error: { message: String(failure) } };
    return new Response(JSON.stringify(answer), { status, headers: { "Content-Type": "application/json" } });
  }
}

/** A control API call; resolves with the Response (any status but 401). */
export async function api(path, options = {}) {
  if (TAURI) return ipc(path, options);
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) {
    sessionStorage.removeItem("murmur-token");
    onUnauthorized("The token was not accepted.");
    throw new Error("unauthorized");
  }
  return response;
}

/** POST a form (an audio upload) to a control API path; resolves with the Response. In the
 * desktop window the form goes over IPC raw, as the multipart bytes fetch would send. */
export async function upload(path, form, signal) {
  if (TAURI) {
    const { type, bytes } = await multipart(form);
    try {
      const answer = await TAURI.invoke("upload", bytes, { headers: { "x-murmur-path": path, "x-murmur-content-type": type } });
      return new Response(answer, { status: 200, headers: { "Content-Type": "application/json" } });
    } catch (failure) {
      const status = failure && typeof failure.status === "number" ? failure.status : 500;
      const body = failure && failure.body !== undefined ? failure.body : { error: { message: String(failure) } };
      return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    }
  }
  const response = await fetch(path, { method: "POST", body: form, signal, headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) {
    sessionStorage.removeItem("murmur-token");
    onUnauthorized("The token was not accepted.");
    throw new Error("unauthorized");
  }
  return response;
}

/** `form` as multipart/form-data bytes, the way fetch would send it (WebKitGTK cannot turn a
 * form holding a Blob into bytes itself). */
async function multipart(form) {
  const boundary = `----murmur${crypto.getRandomValues(new Uint32Array(4)).join("")}`;
  const encoder = new TextEncoder();
  const parts = [];
  const quote = (text) => text.replace(/["\r\n]/g, (c) => encodeURIComponent(c));
  for (const [name, value] of form.entries()) {
    if (typeof value === "string") {
      parts.push(encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`));
    } else {
      parts.push(encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"; filename="${quote(value.name || "blob")}"\r\n`
        + `Content-Type: ${value.type || "application/octet-stream"}\r\n\r\n`));
      parts.push(new Uint8Array(await value.arrayBuffer()));
      parts.push(encoder.encode("\r\n"));
    }
  }
  parts.push(encoder.encode(`--${boundary}--\r\n`));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return { type: `multipart/form-data; boundary=${boundary}`, bytes };
}

/** The message of an error answer (OpenAI's shape), or a fallback naming the status. */
export async function errorText(response, fallback = "Failed") {
  const body = await response.json().catch(() => ({}));
  return (body.error && body.error.message) || `${fallback} (${response.status})`;
}

/** A language tag as people read it: `de-DE` → "German (Germany)". */
const NAMES = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames(["en"], { type: "language" }) : null;
export function languageName(tag) {
  if (!tag) return "Other";
  try {
    return (NAMES && NAMES.of(tag)) || tag;
  } catch (_) {
    return tag;
  }
}

/** `en-US` → `en`. */
export function primary(tag) {
  return (tag || "").split(/[-_]/)[0].toLowerCase();
}
