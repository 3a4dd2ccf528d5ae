// The moderation console: a small page on the JSON API (/admin/api/*). No inline script
// (the CSP allows only this file); the session is an HttpOnly cookie, and every write carries
// the session's CSRF token in X-CSRF-Token.
"use strict";

const state = { csrf: null, role: null, cursor: null, status: "open", current: 0, auditCursor: null };
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const resp = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  const data = text ? JSON.parse(text) : null;
  if (resp.status === 401 && path !== "/admin/api/session") { showSignIn(); }
  if (!resp.ok) {
    const err = new Error((data && data.error && data.error.message) || resp.statusText);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function ago(iso) {
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function flash(message) {
  const f = $("flash");
  f.textContent = message;
  f.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { f.hidden = true; }, 2500);
}

function show(id) {
  for (const s of ["sign-in", "queue", "user", "audit"]) $(s).hidden = s !== id;
}

function showSignIn() {
  state.csrf = null;
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  show("sign-in");
}

function signedIn(session) {
  state.csrf = session.csrf_token;
  state.role = session.role;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  $("nav-audit").hidden = session.role !== "admin";
  $("who").textContent = session.role;
}

// --- the queue ---------------------------------------------------------------------------

function snapshotText(target) {
  const snap = target.snapshot;
  if (!snap) return "(evidence no longer kept)";
  if (target.type === "walk") return snap.memo || "(walk without a memo)";
  if (target.type === "comment") return snap.body;
  return `Profile: ${snap.nickname}`;
}

function renderCase(item) {
  const node = $("case-template").content.firstElementChild.cloneNode(true);
  const t = item.target;
  node.dataset.reportId = item.reports.length ? item.reports[0].id : "";
  node.dataset.type = t.type;
  node.dataset.id = t.id;
  node.querySelector(".kind").textContent = t.type;
  const reasons = [...new Set(item.reports.map((r) => r.reason))];
  node.querySelector(".reason").textContent = `${reasons.join(", ")} · ${item.reports.length} report${item.reports.length === 1 ? "" : "s"}`;
  node.querySelector(".hidden-flag").hidden = !t.hidden;
  node.querySelector(".since").textContent = item.first_reported_at ? `first reported ${ago(item.first_reported_at)}` : "";
  const author = node.querySelector(".author");
  if (t.author) {
    author.textContent = `${t.author.nickname || "(deleted)"} →`;
    author.href = `#/users/${t.author.id}`;
  }
  const quote = node.querySelector(".snapshot");
  quote.append(snapshotText(t));
  if (t.snapshot && t.type === "walk") {
    quote.append(el("span", { class: "meta" }, `${(t.snapshot.distance_m / 1000).toFixed(2)} km · ${t.snapshot.visibility} · ${when(t.snapshot.started_at)}`));
  }
  const list = node.querySelector(".reports");
  for (const r of item.reports) {
    list.append(el("li", {}, el("strong", {}, r.reason), " ", r.note ? `“${r.note}” ` : "",
      el("span", { class: "who" }, `— ${r.reporter ? r.reporter.nickname : "(deleted account)"}, ${when(r.created_at)}`)));
  }
  const actions = node.querySelector(".actions");
  if (item.status !== "open") {
    for (const b of actions.querySelectorAll("button[data-action]")) b.hidden = b.dataset.action !== "restore";
    actions.querySelector(".suspend").hidden = true;
    actions.querySelector(".note").hidden = true;
    actions.querySelector("[data-action=restore]").hidden = !(t.hidden && t.type !== "user");
  } else if (t.type === "user") {
    actions.querySelector("[data-action=hide]").hidden = true;
  }
  actions.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) act(node, button.dataset.action);
  });
  actions.addEventListener("submit", (event) => event.preventDefault());
  node.addEventListener("click", () => focusCase(node));
  return node;
}

async function act(node, action) {
  const buttons = node.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    if (action === "restore") {
      await api("POST", `/admin/api/content/${node.dataset.type}/${node.dataset.id}/restore`, {});
      node.querySelector(".hidden-flag").hidden = true;
      node.querySelector("[data-action=restore]").hidden = true;
      flash("Restored");
      return;
    }
    const body = { action };
    const note = node.querySelector(".note").value.trim();
    if (note) body.note = note;
    if (action === "suspend") body.days = Number(node.querySelector(".days").value);
    await api("POST", `/admin/api/reports/${node.dataset.reportId}/resolve`, body);
    node.classList.add("done");
    flash(`${action[0].toUpperCase()}${action.slice(1)}: done`);
    setTimeout(() => { nextCase(node); node.remove(); updateCount(); }, 150);
  } catch (err) {
    flash(`Failed: ${err.message}`);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function cases() { return [...$("cases").children]; }

function focusCase(node) {
  cases().forEach((c) => c.classList.toggle("current", c === node));
  state.current = cases().indexOf(node);
}

function nextCase(node) {
  const all = cases();
  const i = all.indexOf(node);
  const next = all[i + 1] || all[i - 1];
  if (next) { focusCase(next); next.scrollIntoView({ block: "nearest" }); }
}

function updateCount() {
  const n = cases().length;
  $("queue-count").textContent = `${n} case${n === 1 ? "" : "s"} shown`;
  $("queue-empty").hidden = n > 0;
}

async function loadQueue(status, append) {
  state.status = status;
  show("queue");
  $("queue-title").textContent = { open: "Open reports (oldest first)", actioned: "Actioned", dismissed: "Dismissed" }[status];
  const params = new URLSearchParams({ status, limit: "50" });
  const reason = $("reason-filter").value;
  if (reason) params.set("reason", reason);
  if (append && state.cursor) params.set("before", state.cursor);
  const page = await api("GET", `/admin/api/reports?${params}`);
  if (!append) $("cases").replaceChildren();
  for (const item of page.items) $("cases").append(renderCase(item));
  state.cursor = page.next_cursor;
  $("more").hidden = !page.next_cursor;
  if (!append && cases().length) focusCase(cases()[0]);
  updateCount();
}

// --- a user's page ------------------------------------------------------------------------

async function loadUser(id) {
  show("user");
  const u = await api("GET", `/admin/api/users/${id}`);
  const section = $("user");
  const status = u.status === "active" ? el("span", { class: "badge ok" }, "active")
    : el("span", { class: "badge warn" }, u.status === "banned" ? "banned" : `suspended until ${when(u.until)}`);
  const head = el("div", { class: "panel profile" },
    el("h1", {}, u.nickname), status,
    el("span", { class: "hint" }, `joined ${when(u.created_at)} · ${u.walk_count} walks · ${u.id}`));
  if (u.status !== "active") {
    const lift = el("button", { type: "button", class: "warn" }, u.status === "banned" ? "Lift ban" : "Unsuspend");
    lift.addEventListener("click", async () => {
      await api("POST", `/admin/api/users/${u.id}/unsuspend`, {});
      flash("Lifted");
      loadUser(u.id);
    });
    head.append(lift);
  }
  const reportTable = (rows) => {
    const body = el("tbody");
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "none" }, "None.")));
    for (const r of rows) {
      body.append(el("tr", {}, el("td", {}, when(r.created_at)), el("td", {}, `${r.target.type}`),
        el("td", {}, r.reason), el("td", {}, r.note || ""), el("td", {}, r.status)));
    }
    return el("table", { class: "grid" }, el("thead", {}, el("tr", {}, el("th", {}, "When"), el("th", {}, "Target"),
      el("th", {}, "Reason"), el("th", {}, "Note"), el("th", {}, "Status"))), body);
  };
  const actions = el("tbody");
  if (!u.actions.length) actions.append(el("tr", {}, el("td", { colspan: "5", class: "none" }, "None.")));
  for (const a of u.actions) {
    const row = el("tr", {}, el("td", {}, when(a.at)), el("td", {}, a.staff ? a.staff.nickname : "—"),
      el("td", {}, `${a.action}${a.target && a.target.action ? ` (${a.target.action})` : ""}`),
      el("td", {}, a.target ? a.target.type : ""), el("td", {}, a.note || ""));
    if (a.target && a.target.action === "hide") {
      const restore = el("button", { type: "button", class: "quiet" }, "Restore");
      restore.addEventListener("click", async () => {
        try {
          await api("POST", `/admin/api/content/${a.target.type}/${a.target.id}/restore`, {});
          flash("Restored");
          loadUser(u.id);
        } catch (err) { flash(`Failed: ${err.message}`); }
      });
      row.lastChild.append(" ", restore);
    }
    actions.append(row);
  }
  section.replaceChildren(head,
    el("h2", {}, `Reports against them (${u.reports_against.length})`), reportTable(u.reports_against),
    el("h2", {}, `Actions taken on them (${u.actions.length})`),
    el("table", { class: "grid" }, el("thead", {}, el("tr", {}, el("th", {}, "When"), el("th", {}, "Staff"),
      el("th", {}, "Action"), el("th", {}, "Target"), el("th", {}, "Note"))), actions),
    el("h2", {}, `Reports they filed (${u.reports_by.length})`), reportTable(u.reports_by));
}

// --- the audit log ------------------------------------------------------------------------

async function loadAudit(append) {
  show("audit");
  const params = new URLSearchParams({ limit: "100" });
  if (append && state.auditCursor) params.set("before", state.auditCursor);
  const page = await api("GET", `/admin/api/audit?${params}`);
  if (!append) $("audit-rows").replaceChildren();
  for (const a of page.items) {
    const target = a.target ? `${a.target.type || ""} ${a.target.action || ""} ${a.target.id || ""}` : "";
    $("audit-rows").append(el("tr", {}, el("td", {}, when(a.at)), el("td", {}, a.staff ? a.staff.nickname : "(command line)"),
      el("td", {}, a.action), el("td", {}, target), el("td", {}, a.note || "")));
  }
  state.auditCursor = page.next_cursor;
  $("audit-more").hidden = !page.next_cursor;
}

// --- routing and start --------------------------------------------------------------------

async function route() {
  if (!state.csrf) return;
  const hash = location.hash || "#/queue/open";
  const [, view, arg] = hash.split("/");
  document.querySelectorAll("#nav a").forEach((a) => {
    a.classList.toggle("on", a.getAttribute("href") === hash);
  });
  try {
    if (view === "users" && arg) await loadUser(arg);
    else if (view === "audit") await loadAudit(false);
    else await loadQueue(["open", "actioned", "dismissed"].includes(arg) ? arg : "open", false);
  } catch (err) {
    if (err.status !== 401) flash(`Failed: ${err.message}`);
  }
}

function onKey(event) {
  if ($("queue").hidden || event.target.matches("input, select, textarea")) return;
  const all = cases();
  if (!all.length) return;
  const node = all[Math.min(state.current, all.length - 1)];
  const keys = { d: "dismiss", h: "hide", s: "suspend", b: "ban" };
  if (event.key === "j" || event.key === "k") {
    const i = Math.max(0, Math.min(all.length - 1, state.current + (event.key === "j" ? 1 : -1)));
    focusCase(all[i]);
    all[i].scrollIntoView({ block: "nearest" });
  } else if (keys[event.key] && state.status === "open") {
    if (event.key === "b" && !confirm("Ban this person?")) return;
    act(node, keys[event.key]);
  }
}

async function start() {
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    $("sign-in-error").textContent = "";
    try {
      const session = await api("POST", "/admin/api/session", {
        email: form.email.value, password: form.password.value, totp: form.totp.value,
      });
      form.reset();
      signedIn(session);
      route();
    } catch (err) {
      $("sign-in-error").textContent = err.status === 429 ? "Too many attempts: wait a while." : "Wrong email, password or code.";
    }
  });
  $("sign-out").addEventListener("click", async () => {
    try { await api("DELETE", "/admin/api/session"); } finally { showSignIn(); }
  });
  $("more").addEventListener("click", () => loadQueue(state.status, true));
  $("audit-more").addEventListener("click", () => loadAudit(true));
  $("reason-filter").addEventListener("change", () => loadQueue(state.status, false));
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", onKey);
  try {
    signedIn(await api("GET", "/admin/api/session"));
    route();
  } catch {
    showSignIn();
  }
}

document.addEventListener("DOMContentLoaded", start);
