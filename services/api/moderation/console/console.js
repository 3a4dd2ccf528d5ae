// The moderation console: a small page on the JSON API (/admin/api/*). No inline script
// (the CSP allows only this file); the session is an HttpOnly cookie, and every write carries
// the session's CSRF token in X-CSRF-Token.
"use strict";

const STRINGS = {
  en: {
    minAgo: (n) => `${n} min ago`, hAgo: (n) => `${n} h ago`, daysAgo: (n) => `${n} days ago`,
    profile: (name) => `Profile: ${name}`, noEvidence: "(evidence no longer kept)",
    noMemo: "(walk without a memo)", deleted: "(deleted account)", restored: "Restored",
    done: (a) => `${a}: done`, failed: (m) => `Failed: ${m}`,
    shown: (n) => `${n} case${n === 1 ? "" : "s"} shown`,
    titles: { open: "Open reports (oldest first)", actioned: "Actioned", dismissed: "Dismissed" },
    lifted: "Lifted", liftBan: "Lift ban", unsuspend: "Unsuspend", active: "active", banned: "banned",
    suspendedUntil: (t) => `suspended until ${t}`,
    joined: (t, n) => `joined ${t} · ${n} walks`,
    when: "When", target: "Target", reason: "Reason", note: "Note", status: "Status",
    staff: "Staff", action: "Action", none: "None.", commandLine: "(command line)",
    against: (n) => `Reports against them (${n})`, actionsOn: (n) => `Actions taken on them (${n})`,
    filed: (n) => `Reports they filed (${n})`, reports: (n) => `${n} report${n === 1 ? "" : "s"}`,
    firstReported: (t) => `first reported ${t}`, confirmBan: "Ban this person?",
    tooMany: "Too many attempts: wait a while.", wrong: "Wrong email, password or code.",
    actions: { dismiss: "Dismiss", hide: "Hide", suspend: "Suspend", ban: "Ban" },
    restore: "Restore",
  },
  ko: {
    minAgo: (n) => `${n}분 전`, hAgo: (n) => `${n}시간 전`, daysAgo: (n) => `${n}일 전`,
    profile: (name) => `프로필: ${name}`, noEvidence: "(증거 보관 기간이 지났어요)",
    noMemo: "(메모 없는 산책)", deleted: "(탈퇴한 계정)", restored: "복구했어요",
    done: (a) => `${a}: 처리했어요`, failed: (m) => `실패: ${m}`,
    shown: (n) => `${n}건 표시`,
    titles: { open: "처리 대기 신고 (오래된 순)", actioned: "조치됨", dismissed: "기각됨" },
    lifted: "해제했어요", liftBan: "영구 정지 해제", unsuspend: "정지 해제", active: "정상",
    banned: "영구 정지", suspendedUntil: (t) => `${t}까지 정지`,
    joined: (t, n) => `${t} 가입 · 산책 ${n}회`,
    when: "시각", target: "대상", reason: "사유", note: "메모", status: "상태",
    staff: "담당자", action: "조치", none: "없음", commandLine: "(명령줄)",
    against: (n) => `이 사람에 대한 신고 (${n})`, actionsOn: (n) => `이 사람에게 한 조치 (${n})`,
    filed: (n) => `이 사람이 한 신고 (${n})`, reports: (n) => `신고 ${n}건`,
    firstReported: (t) => `첫 신고 ${t}`, confirmBan: "이 사람을 영구 정지할까요?",
    tooMany: "시도가 너무 많아요. 잠시 후 다시 해 주세요.", wrong: "이메일, 비밀번호 또는 인증 코드가 맞지 않아요.",
    actions: { dismiss: "기각", hide: "숨김", suspend: "정지", ban: "영구 정지" },
    restore: "복구",
    labels: {
      walk: "산책", comment: "댓글", user: "사용자", spam: "스팸", harassment: "괴롭힘", hate: "혐오",
      sexual: "성적 콘텐츠", violence: "폭력", self_harm: "자해", privacy: "개인정보",
      impersonation: "사칭", other: "기타", open: "대기", actioned: "조치됨", dismissed: "기각됨",
      resolve: "처리", restore: "복구", unsuspend: "정지 해제", sign_in: "로그인",
      sign_out: "로그아웃", grant: "권한 부여", revoke: "권한 회수", hide: "숨김", suspend: "정지",
      ban: "영구 정지", dismiss: "기각", moderator: "모더레이터", admin: "관리자",
      public: "전체 공개", followers: "팔로워 공개", private: "비공개",
    },
  },
};
const T = STRINGS[document.documentElement.lang] || STRINGS.en;
const L = (code) => (T.labels && T.labels[code]) || code;

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
  return d.toLocaleString(document.documentElement.lang || undefined, { dateStyle: "medium", timeStyle: "short" });
}

function ago(iso) {
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 3600) return T.minAgo(Math.round(s / 60));
  if (s < 86400) return T.hAgo(Math.round(s / 3600));
  return T.daysAgo(Math.round(s / 86400));
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
  $("who").textContent = L(session.role);
}

// --- the queue ---------------------------------------------------------------------------

function snapshotText(target) {
  const snap = target.snapshot;
  if (!snap) return T.noEvidence;
  if (target.type === "walk") return snap.memo || T.noMemo;
  if (target.type === "comment") return snap.body;
  return T.profile(snap.nickname);
}

function renderCase(item) {
  const node = $("case-template").content.firstElementChild.cloneNode(true);
  const t = item.target;
  node.dataset.reportId = item.reports.length ? item.reports[0].id : "";
  node.dataset.type = t.type;
  node.dataset.id = t.id;
  node.querySelector(".kind").textContent = L(t.type);
  const reasons = [...new Set(item.reports.map((r) => L(r.reason)))];
  node.querySelector(".reason").textContent = `${reasons.join(", ")} · ${T.reports(item.reports.length)}`;
  node.querySelector(".hidden-flag").hidden = !t.hidden;
  node.querySelector(".since").textContent = item.first_reported_at ? T.firstReported(ago(item.first_reported_at)) : "";
  const author = node.querySelector(".author");
  if (t.author) {
    author.textContent = `${t.author.nickname || T.deleted} →`;
    author.href = `#/users/${t.author.id}`;
  }
  const quote = node.querySelector(".snapshot");
  quote.append(snapshotText(t));
  if (t.snapshot && t.type === "walk") {
    quote.append(el("span", { class: "meta" }, `${(t.snapshot.distance_m / 1000).toFixed(2)} km · ${L(t.snapshot.visibility)} · ${when(t.snapshot.started_at)}`));
  }
  const list = node.querySelector(".reports");
  for (const r of item.reports) {
    list.append(el("li", {}, el("strong", {}, L(r.reason)), " ", r.note ? `“${r.note}” ` : "",
      el("span", { class: "who" }, `— ${r.reporter ? r.reporter.nickname : T.deleted}, ${when(r.created_at)}`)));
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
      flash(T.restored);
      return;
    }
    const body = { action };
    const note = node.querySelector(".note").value.trim();
    if (note) body.note = note;
    if (action === "suspend") body.days = Number(node.querySelector(".days").value);
    await api("POST", `/admin/api/reports/${node.dataset.reportId}/resolve`, body);
    node.classList.add("done");
    flash(T.done(T.actions[action]));
    setTimeout(() => {
      nextCase(node);
      node.remove();
      updateCount();
      // Keep a queue of a hundred cases flowing: fetch the next ones before the list runs dry.
      if (cases().length < 10 && state.cursor) loadQueue(state.status, true);
    }, 150);
  } catch (err) {
    flash(T.failed(err.message));
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
  $("queue-count").textContent = T.shown(n);
  $("queue-empty").hidden = n > 0;
}

async function loadQueue(status, append) {
  state.status = status;
  show("queue");
  $("queue-title").textContent = T.titles[status];
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
  const status = u.status === "active" ? el("span", { class: "badge ok" }, T.active)
    : el("span", { class: "badge warn" }, u.status === "banned" ? T.banned : T.suspendedUntil(when(u.until)));
  const head = el("div", { class: "panel profile" },
    el("h1", {}, u.nickname), status,
    el("span", { class: "hint" }, `${T.joined(when(u.created_at), u.walk_count)} · ${u.id}`));
  if (u.status !== "active") {
    const lift = el("button", { type: "button", class: "warn" }, u.status === "banned" ? T.liftBan : T.unsuspend);
    lift.addEventListener("click", async () => {
      await api("POST", `/admin/api/users/${u.id}/unsuspend`, {});
      flash(T.lifted);
      loadUser(u.id);
    });
    head.append(lift);
  }
  const reportTable = (rows) => {
    const body = el("tbody");
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "none" }, T.none)));
    for (const r of rows) {
      body.append(el("tr", {}, el("td", {}, when(r.created_at)), el("td", {}, L(r.target.type)),
        el("td", {}, L(r.reason)), el("td", {}, r.note || ""), el("td", {}, L(r.status))));
    }
    return el("table", { class: "grid" }, el("thead", {}, el("tr", {}, el("th", {}, T.when), el("th", {}, T.target),
      el("th", {}, T.reason), el("th", {}, T.note), el("th", {}, T.status))), body);
  };
  const actions = el("tbody");
  if (!u.actions.length) actions.append(el("tr", {}, el("td", { colspan: "5", class: "none" }, T.none)));
  for (const a of u.actions) {
    const row = el("tr", {}, el("td", {}, when(a.at)), el("td", {}, a.staff ? a.staff.nickname : "—"),
      el("td", {}, `${L(a.action)}${a.target && a.target.action ? ` (${L(a.target.action)})` : ""}`),
      el("td", {}, a.target ? L(a.target.type) : ""), el("td", {}, a.note || ""));
    if (a.target && a.target.action === "hide") {
      const restore = el("button", { type: "button", class: "quiet" }, T.restore);
      restore.addEventListener("click", async () => {
        try {
          await api("POST", `/admin/api/content/${a.target.type}/${a.target.id}/restore`, {});
          flash(T.restored);
          loadUser(u.id);
        } catch (err) { flash(T.failed(err.message)); }
      });
      row.lastChild.append(" ", restore);
    }
    actions.append(row);
  }
  section.replaceChildren(head,
    el("h2", {}, T.against(u.reports_against.length)), reportTable(u.reports_against),
    el("h2", {}, T.actionsOn(u.actions.length)),
    el("table", { class: "grid" }, el("thead", {}, el("tr", {}, el("th", {}, T.when), el("th", {}, T.staff),
      el("th", {}, T.action), el("th", {}, T.target), el("th", {}, T.note))), actions),
    el("h2", {}, T.filed(u.reports_by.length)), reportTable(u.reports_by));
}

// --- the audit log ------------------------------------------------------------------------

async function loadAudit(append) {
  show("audit");
  const params = new URLSearchParams({ limit: "100" });
  if (append && state.auditCursor) params.set("before", state.auditCursor);
  const page = await api("GET", `/admin/api/audit?${params}`);
  if (!append) $("audit-rows").replaceChildren();
  for (const a of page.items) {
    const target = a.target ? `${L(a.target.type || "")} ${L(a.target.action || "")} ${a.target.id || ""}` : "";
    $("audit-rows").append(el("tr", {}, el("td", {}, when(a.at)), el("td", {}, a.staff ? a.staff.nickname : T.commandLine),
      el("td", {}, L(a.action)), el("td", {}, target), el("td", {}, a.note || "")));
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
    if (err.status !== 401) flash(T.failed(err.message));
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
    if (event.key === "b" && !confirm(T.confirmBan)) return;
    act(node, keys[event.key]);
  }
}

async function start() {
  for (const option of $("reason-filter").options) if (option.value) option.textContent = L(option.value);
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
      $("sign-in-error").textContent = err.status === 429 ? T.tooMany : T.wrong;
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
