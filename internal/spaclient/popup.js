// The login window's script (sgid.js opens the window; the page is the
// handler's login popup page, which names the auth-url path in
// data-auth-url). First visit: start a login that comes back to this page
// with sgid_popup=done. Second visit, after the login: tell the page that
// opened this window, and every other tab, then close. The message says
// only "a login happened": the tabs ask the session route themselves.
(() => {
  "use strict";
  const status = (text) => {
    const p = document.getElementById("status");
    if (p) p.textContent = text;
  };
  const opener = window.opener;
  const tell = (msg) => {
    // The target origin keeps the message on this origin, whatever page
    // the opener has gone to since.
    try {
      if (opener) opener.postMessage(msg, location.origin);
    } catch (e) {}
  };
  const q = new URLSearchParams(location.search);

  if (q.get("sgid_popup") === "done") {
    const msg = { type: "sgid:login", active: true };
    tell(msg);
    if (typeof BroadcastChannel === "function") {
      const c = new BroadcastChannel("sgid");
      c.postMessage(msg);
      c.close();
    } else {
      try {
        localStorage.setItem("sgid:event", JSON.stringify({ type: msg.type, at: Date.now(), n: Math.random() }));
        localStorage.removeItem("sgid:event");
      } catch (e) {}
    }
    status("You are logged in. You can close this window.");
    // A moment for the messages to leave before the window goes.
    setTimeout(() => window.close(), 50);
    return;
  }

  const authURL = document.documentElement.getAttribute("data-auth-url") || "";
  q.delete("sgid_popup");
  q.set("return_to", location.pathname + "?sgid_popup=done");
  const fail = (why) => {
    status("The login could not start. Close this window and try again.");
    tell({ type: "sgid:login-error", error: why });
  };
  fetch(authURL + "?" + q, { credentials: "same-origin", headers: { Accept: "application/json", "X-Requested-With": "fetch" } })
    .then((r) => r.json().then((body) => ({ r, body }), () => ({ r, body: null })))
    .then(({ r, body }) => {
      if (!r.ok || !body || typeof body.url !== "string") return fail(body && typeof body.error === "string" ? body.error : "login_failed");
      const url = new URL(body.url, location.href);
      if (url.protocol !== "https:" && url.protocol !== "http:") return fail("login_failed");
      location.replace(url.href);
    }, () => fail("network_error"));
})();
