// sgid.js: the browser side of a caddy-sgid session, for an app served on
// the same origin as its sgid routes. No dependency, no build step; the
// session stays in an HttpOnly cookie that this module never sees.
// Guide: docs/spa.md in caddy-sgid.
//
//   import * as sgid from "/api/sgid.js";
//   sgid.onChange((e) => render(e.session));  // any tab: login, logout, expired, extend
//   sgid.before("idle", 60, showBanner);      // a minute before the idle end
//   await sgid.login({ popup: true });        // from a click; the page stays
//   const res = await sgid.fetch("/api/orders", { method: "POST", body });

/**
 * @typedef {object} Session The session route's answer; times in Unix seconds.
 * @property {boolean} active
 * @property {string|null} sub
 * @property {number|null} auth_time
 * @property {number|null} expires_at absolute end
 * @property {number|null} idle_expires_at idle end; null without an idle timeout
 * @property {string} login_url
 * @property {string} logout_url
 */
/**
 * @typedef {object} ChangeEvent
 * @property {"login"|"logout"|"expired"|"extend"} type
 * @property {Session} session the session now
 * @property {boolean} remote another tab made the change
 */
/** @typedef {{login_url: string|null, response: Response, ended: boolean}} LoginRequired ended: the session is gone (else the login is too old for the path) */
/** @typedef {"idle"|"absolute"|"any"} Expiry */
/** @typedef {{session: Session, expiresAt: number, remaining: number}} Warning */
/** @typedef {{which: Expiry, ms: number, cb: (w: Warning) => void, timer?: number, done?: number}} Watch */

/** An error with a machine-readable `code` ("login_required", "popup_closed", "access_denied", ...). */
export class SgidError extends Error {
  /** @param {string} code @param {string} message @param {number} [status] */
  constructor(code, message, status) {
    super(message);
    this.name = "SgidError";
    this.code = code;
    this.status = status;
  }
}

const KEY = "sgid:event"; // the localStorage key of the fallback
const TYPES = ["login", "logout", "expired", "extend"];

/** @param {string} b */
const routes = (b) => ({
  session: b + "/session",
  extend: b + "/session/extend",
  authUrl: b + "/auth-url",
  popup: b + "/login-popup",
  logout: b + "/logout",
  sessions: b + "/sessions",
  error: "/error", // where a failed login lands
});
const paths = routes("/api");
/** @type {((info: LoginRequired) => Promise<unknown>)|null} */
let loginRequired = null;

/** @type {Session|null} */
let current = null; // what the server last said
let changes = 0; // counts what this tab did (logout, extend, a 401): a read begun before is stale
let reads = 0, applied = 0; // numbers reads; an answer older than the last applied is stale
let skew = 0; // server clock minus ours (ms), when over 2 s
/** @type {Promise<{s: Session, n: number, gen: number}>|null} */
let loading = null;
let lastLoad = 0;
/** @type {Set<(e: ChangeEvent) => void>} */
const listeners = new Set();
/** @type {Set<Watch>} */
const watches = new Set();
/** @type {BroadcastChannel|null} */
let channel = null;
let started = false;
/** @type {{promise: Promise<Session>, win: Window, check: () => void}|null} */
let pending = null;
let expiryTimer = 0, expiryEnd = 0, expiryTries = 0;

/**
 * Sets the routes (`base`, default "/api", or single `paths`) and the
 * handler {@link fetch} calls on a 401 asking for a login: it settles once
 * logged in again (the request is retried once) or rejects (the 401 is
 * returned). Default handler: `login({popup: true})`.
 * @param {{base?: string, paths?: Partial<typeof paths>, onLoginRequired?: ((info: LoginRequired) => Promise<unknown>)|null}} [o]
 */
export function configure({ base, paths: some, onLoginRequired } = {}) {
  if (base !== undefined) Object.assign(paths, routes(base.replace(/\/+$/, "")));
  if (some) Object.assign(paths, some);
  if (onLoginRequired !== undefined) loginRequired = onLoginRequired;
}

/**
 * Asks the server about the session. Never counts as activity.
 * @returns {Promise<Session>}
 */
export const session = () => load(null, false);

/**
 * Calls cb on each change of the session, in this tab or another.
 * @param {(e: ChangeEvent) => void} cb
 * @returns {() => void} unsubscribes
 */
export function onChange(cb) {
  start();
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/**
 * Calls cb `seconds` before the session's end: "idle" (moved by activity;
 * never without an idle timeout), "absolute" (moved by a new login only) or
 * "any" (the first). The server is asked first, so an end that moved
 * re-arms instead. Once per end; re-armed when the session changes.
 * @param {Expiry} expiry @param {number} seconds @param {(w: Warning) => void} cb
 * @returns {() => void} cancels
 */
export function before(expiry, seconds, cb) {
  if (!["idle", "absolute", "any"].includes(expiry)) throw new TypeError("sgid.before: expiry is idle, absolute or any");
  start();
  /** @type {Watch} */
  const w = { which: expiry, ms: seconds * 1000, cb };
  watches.add(w);
  if (current) arm(w);
  else session().catch(() => {});
  return () => {
    clearTimeout(w.timer);
    watches.delete(w);
  };
}

/**
 * Extends the session (counts as activity). Rejects with "login_required"
 * when there is none.
 * @returns {Promise<Session>}
 */
export async function extend() {
  start();
  const { res, body } = await call("POST", paths.extend);
  if (res.status === 401) {
    update(signedOut(), "expired", false);
    throw new SgidError("login_required", "No session to extend.", 401);
  }
  if (!res.ok || !isSession(body)) throw failure(res, body);
  update(body, "extend", false);
  return body;
}

/**
 * Logs in. With `popup` (default) in a window, and resolves to the new
 * session while this page stays as it is. Call it from a click: when the
 * browser blocks the window, or with `popup: false`, the page itself goes
 * to the login and comes back to `returnTo` (default: this page), and the
 * promise never settles. Rejects with "popup_closed", or the reason of a
 * failed login ("access_denied", ...). `params`: app parameters for
 * auth-url.
 * @param {{returnTo?: string, popup?: boolean, params?: Record<string, string>}} [o]
 * @returns {Promise<Session>}
 */
export function login({ returnTo, popup = true, params } = {}) {
  start();
  if (popup) {
    if (pending && !pending.win.closed) {
      pending.win.focus();
      return pending.promise;
    }
    const q = String(new URLSearchParams(params));
    const [w, h] = [480, 640];
    const at = `left=${Math.max(0, screenX + (outerWidth - w) / 2)},top=${Math.max(0, screenY + (outerHeight - h) / 2)}`;
    const win = window.open(paths.popup + (q && "?" + q), "sgid-login", `popup,width=${w},height=${h},${at}`);
    if (win) return watch(win);
  }
  return redirect(returnTo ?? location.pathname + location.search, params);
}

/**
 * Logs out this browser, or with `everywhere` every browser of the user.
 * @param {{everywhere?: boolean}} [o]
 * @returns {Promise<{ended?: number}>}
 */
export async function logout({ everywhere = false } = {}) {
  start();
  const { res, body } = await call("POST", paths.logout + (everywhere ? "?everywhere=1" : ""));
  if (!res.ok) throw failure(res, body);
  update(signedOut(), "logout", false);
  return isObject(body) ? body : {};
}

/**
 * The user's sessions in every browser, this one first. Times are Unix
 * seconds to the minute; null for a session older than the list.
 * @returns {Promise<Array<{handle: string, created: number|null, last_seen: number|null, device: string, current: boolean}>>}
 */
export async function sessions() {
  const { res, body } = await call("GET", paths.sessions);
  if (!res.ok || !isObject(body) || !Array.isArray(body.sessions)) throw failure(res, body);
  return body.sessions;
}

/**
 * Ends one of the user's sessions, by its handle.
 * @param {string} handle
 */
export async function endSession(handle) {
  const { res, body } = await call("DELETE", paths.sessions + "/" + encodeURIComponent(handle));
  if (!res.ok) throw failure(res, body);
  await load("logout", false).catch(() => {}); // it may have been this one
}

/**
 * fetch for the app's API: same-origin credentials and `X-Requested-With:
 * fetch` (a guard then answers 401, not a redirect). A 401 asking for a
 * login (or a fresher one) calls the login-required handler, then retries
 * once. A stream body cannot be sent twice.
 * @param {RequestInfo|URL} input @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function fetch(input, init = {}) {
  start();
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  if (!headers.has("X-Requested-With")) headers.set("X-Requested-With", "fetch");
  const opts = { ...init, headers, credentials: init.credentials ?? "same-origin" };
  const spare = input instanceof Request ? input.clone() : input;
  const res = await globalThis.fetch(input, opts);
  const info = res.status === 401 && (await askedToLogIn(res));
  if (!info) return res;
  if (info.ended) update(signedOut(info.login_url), "expired", false);
  try {
    await (loginRequired ?? (() => login()))(info);
  } catch {
    return res;
  }
  return globalThis.fetch(spare, opts);
}

// ---------------------------------------------------------------------

function start() {
  if (started) return;
  started = true;
  if (typeof BroadcastChannel === "function") {
    channel = new BroadcastChannel("sgid");
    channel.onmessage = (e) => receive(e.data);
  } else {
    addEventListener("storage", (e) => {
      if (e.key === KEY && e.newValue) receive(parse(e.newValue));
    });
  }
  // A hidden tab's timers run late or not at all: look again when seen.
  const recheck = () => {
    if (current && document.visibilityState === "visible" && Date.now() - lastLoad > 1000) session().catch(() => {});
  };
  document.addEventListener("visibilitychange", recheck);
  addEventListener("focus", recheck);
}

/**
 * Another tab's (or the login window's) word: only what happened; the
 * session itself is asked of the server.
 * @param {unknown} m
 */
function receive(m) {
  const type = isObject(m) && typeof m.type === "string" && m.type.startsWith("sgid:") ? m.type.slice(5) : "";
  if (!TYPES.includes(type)) return;
  if (type === "login" && pending) return pending.check();
  load(/** @type {ChangeEvent["type"]} */ (type), true).catch(() => {});
}

/** @param {string} type */
function broadcast(type) {
  const m = { type: "sgid:" + type };
  if (channel) return channel.postMessage(m);
  try {
    // Fires a storage event in the other tabs; nothing stays stored.
    localStorage.setItem(KEY, JSON.stringify({ ...m, n: Math.random() }));
    localStorage.removeItem(KEY);
  } catch {}
}

/** @param {string} method @param {string} path */
async function call(method, path) {
  const res = await globalThis.fetch(path, {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json", "X-Requested-With": "fetch" },
  });
  const date = Date.parse(res.headers.get("Date") ?? "");
  if (date) skew = Math.abs(date - Date.now()) >= 2000 ? date - Date.now() : 0;
  return { res, body: parse(await res.text()) };
}

/**
 * Reads the session and records it. A plain read joins one on its way; a
 * caller that knows something happened (reason) needs one begun after.
 * @param {ChangeEvent["type"]|null} reason
 * @param {boolean} remote
 * @returns {Promise<Session>}
 */
async function load(reason, remote) {
  start();
  const p = !reason && loading ? loading : (loading = read());
  const { s, n, gen } = await p;
  // Not if this tab changed the session since the read began (a read from
  // before a logout must not undo it), nor if a later read was applied.
  if (gen === changes && n >= applied) {
    applied = n;
    update(s, reason, remote, true);
  }
  return current ?? s;
}

function read() {
  const n = ++reads, gen = changes;
  /** @type {Promise<{s: Session, n: number, gen: number}>} */
  const p = (async () => {
    try {
      const { res, body } = await call("GET", paths.session);
      if (!res.ok || !isSession(body)) throw failure(res, body);
      return { s: body, n, gen };
    } finally {
      if (loading === p) loading = null;
      lastLoad = Date.now();
    }
  })();
  return p;
}

/**
 * Records a session; on a change tells the listeners and the other tabs.
 * The first answer is no change; before it, a login or logout implies what was.
 * @param {Session} next @param {ChangeEvent["type"]|null} reason @param {boolean} remote @param {boolean} [fromRead]
 */
function update(next, reason, remote, fromRead = false) {
  const prev = current ?? (reason === "login" ? { active: false } : reason === "logout" ? { active: true } : null);
  current = next;
  if (!fromRead) changes++;
  /** @type {ChangeEvent["type"]|null} */
  let type = null;
  if (prev?.active && !next.active) type = reason === "logout" ? "logout" : "expired";
  else if (prev && next.active && (!prev.active || prev.sub !== next.sub || prev.auth_time !== next.auth_time)) type = "login";
  else if (prev?.active && next.active && (prev.expires_at !== next.expires_at || prev.idle_expires_at !== next.idle_expires_at)) type = "extend";
  watches.forEach(arm);
  armExpiry();
  if (!type) return;
  if (!remote) broadcast(type);
  for (const cb of [...listeners]) safely(() => cb({ type, session: next, remote }));
}

/** The end that `which` names, Unix seconds, or null. @param {Session|null} s @param {Expiry} which */
function endOf(s, which) {
  const ends = !s?.active ? [] : [which !== "absolute" && s.idle_expires_at, which !== "idle" && s.expires_at].filter((t) => typeof t === "number");
  return ends.length ? Math.min(.../** @type {number[]} */ (ends)) : null;
}

/** Milliseconds from now to `at` (ms on the server's clock). @param {number} at */
const delayTo = (at) => Math.min(2 ** 31 - 1, Math.max(0, at - skew - Date.now()));

/** @param {Watch} w */
function arm(w) {
  clearTimeout(w.timer);
  const end = endOf(current, w.which);
  if (end == null || w.done === end) return;
  w.timer = setTimeout(async () => {
    w.done = end; // while asking, updates leave this end alone
    await session().catch(() => {});
    if (endOf(current, w.which) !== end) {
      w.done = undefined;
      return arm(w);
    }
    safely(() => w.cb({ session: /** @type {Session} */ (current), expiresAt: end, remaining: Math.round(delayTo(end * 1000) / 1000) }));
  }, delayTo(end * 1000 - w.ms));
}

/**
 * Just after the end, ask the server: that makes "expired". If it still
 * says active with that end (a clock a little off), ask again, at most 3
 * times a second apart; then the visibility re-check takes over.
 */
function armExpiry() {
  clearTimeout(expiryTimer);
  const end = endOf(current, "any");
  if (end !== expiryEnd) [expiryEnd, expiryTries] = [end ?? 0, 0];
  if (end == null || expiryTries >= 3) return;
  expiryTimer = setTimeout(() => {
    expiryTries++;
    session().catch(() => {});
  }, Math.max(expiryTries && 1000, delayTo(end * 1000 + 1000)));
}

/**
 * Waits for the login window's word, then asks the server.
 * @param {Window} win
 * @returns {Promise<Session>}
 */
function watch(win) {
  /** @type {(s: Session) => void} */
  let resolve = () => {};
  /** @type {(e: Error) => void} */
  let reject = () => {};
  const promise = new Promise((y, n) => ([resolve, reject] = [y, n]));
  let done = false, asking = false;
  /** @param {Error|null} err @param {Session} [s] */
  const finish = (err, s) => {
    if (done) return;
    done = true;
    if (pending?.win === win) pending = null;
    clearInterval(poll);
    removeEventListener("message", onMessage);
    safely(() => win.close());
    err ? reject(err) : resolve(/** @type {Session} */ (s));
  };
  const check = async (closed = false) => {
    if (done || asking) return;
    asking = true;
    try {
      const s = await load("login", false);
      if (s.active) finish(null, s);
      else if (closed) finish(new SgidError("popup_closed", "The login window was closed."));
    } catch (err) {
      if (closed) finish(/** @type {Error} */ (err));
    } finally {
      asking = false;
    }
  };
  /** @param {MessageEvent} e */
  const onMessage = (e) => {
    // Only the window this page opened, on this origin; and its word only
    // makes us ask: the session route decides.
    if (e.origin !== location.origin || e.source !== win || !isObject(e.data)) return;
    if (e.data.type === "sgid:login") check();
    if (e.data.type === "sgid:login-error") finish(new SgidError(String(e.data.error || "login_failed"), "The login could not start."));
  };
  addEventListener("message", onMessage);
  const poll = setInterval(() => {
    if (win.closed) return void check(true);
    try {
      // Readable only while the window is on this origin.
      if (win.location.pathname !== paths.error) return;
      const reason = new URLSearchParams(win.location.search).get("reason") || "login_failed";
      finish(new SgidError(reason, "The login did not complete: " + reason + "."));
    } catch {}
  }, 300);
  pending = { promise, win, check };
  return promise;
}

/**
 * Leaves the page for the login, back to returnTo.
 * @param {string} returnTo @param {Record<string, string>} [params]
 * @returns {Promise<never>}
 */
async function redirect(returnTo, params) {
  const q = new URLSearchParams(params);
  q.set("return_to", returnTo);
  const { res, body } = await call("GET", paths.authUrl + "?" + q);
  const url = res.ok && isObject(body) && typeof body.url === "string" ? new URL(body.url, location.href) : null;
  if (!url || !/^https?:$/.test(url.protocol)) throw failure(res, body);
  location.assign(url.href);
  return new Promise(() => {}); // the page is leaving
}

/**
 * A 401 asks for a login with {"error": "login_required"} (or
 * "login_too_old": a fresh_login path) or a Link rel="login".
 * @param {Response} res
 * @returns {Promise<LoginRequired|null>}
 */
async function askedToLogIn(res) {
  const link = /<([^>]*)>\s*;\s*rel="?login"?/i.exec(res.headers.get("Link") ?? "");
  const body = parse(await res.clone().text());
  const error = isObject(body) ? body.error : null;
  const asked = error === "login_required" || error === "login_too_old";
  if (!link && !asked) return null;
  const url = asked && typeof body.login_url === "string" ? body.login_url : link ? link[1] : null;
  // A login too old for the path leaves the session as it is.
  return { login_url: url, response: res, ended: error !== "login_too_old" };
}

/** @param {string|null} [loginURL] @returns {Session} */
function signedOut(loginURL) {
  const [login_url, logout_url] = [loginURL ?? current?.login_url ?? paths.authUrl, current?.logout_url ?? paths.logout];
  return { active: false, sub: null, auth_time: null, expires_at: null, idle_expires_at: null, login_url, logout_url };
}

/** @param {Response} res @param {any} body */
function failure(res, body) {
  const code = isObject(body) && typeof body.error === "string" ? body.error : res.ok ? "bad_answer" : "http_" + res.status;
  return new SgidError(code, `sgid: ${res.url} answered ${res.status} ${code}`, res.status);
}

/** @param {() => void} f */
function safely(f) {
  try {
    f();
  } catch (err) {
    globalThis.reportError?.(err);
  }
}

/** @param {string} text */
function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** @param {unknown} v @returns {v is Record<string, any>} */
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** @param {unknown} v @returns {v is Session} */
const isSession = (v) => isObject(v) && typeof v.active === "boolean";
