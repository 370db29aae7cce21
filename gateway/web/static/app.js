// Siaga 112 pages: read the REST API, render with textContent only (never
// innerHTML with data: descriptions come from the public), poll for changes.
"use strict";

const page = document.body.dataset.page;
const POLL_MS = 3000;
let me = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

// API field -> form field (location errors belong next to the area input)
const FIELD_OF = { location: "area", label: "area", lat: "area", lon: "area" };

// an error sentence right after the field at fault, until the operator dismisses it
function fieldError(form, name, msg) {
  const input = form.querySelector(`[name=${name}]`) || form.querySelector("button[type=submit]");
  const box = el("p", { class: "field-error", role: "alert", "data-field": name }, msg + " ",
    el("button", { type: "button", class: "link", onclick: () => box.remove() }, "Tutup / Dismiss"));
  input.setAttribute("aria-invalid", "true");
  (input.closest("label") || input).after(box);
}

function clearFieldErrors(form) {
  for (const e of form.querySelectorAll(".field-error")) e.remove();
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
}

function showError(msg) {
  const box = document.getElementById("error");
  box.textContent = msg;
  box.hidden = !msg;
}

async function api(path, options = {}) {
  const res = await fetch(path, {
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    ...options,
  });
  if (res.status === 401 && page !== "login") {
    location.href = "/login?next=" + encodeURIComponent(location.pathname);
    throw new Error("401");
  }
  if (!res.ok) {
    let detail = res.statusText;
    let fields = [];
    try {
      const body = await res.json();
      if (Array.isArray(body.detail)) { fields = body.detail; detail = fields.map((d) => d.msg).join(" "); }
      else if (typeof body.detail === "string") detail = body.detail;
    } catch (_) {}
    const err = new Error(`${res.status}: ${detail}`);
    err.fields = fields; // [{loc, msg, type}]: shown next to the field at fault
    throw err;
  }
  return res.status === 204 ? null : res.json();
}

const fmtTime = (s) => (s ? new Date(s).toLocaleString("id-ID", { hour12: false }) : "–");
const fmtDur = (s) => (s === null || s === undefined ? "–" : s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${(s / 60).toFixed(1)} mnt` : `${(s / 3600).toFixed(1)} jam`);
const fmtPct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)} %`);
const place = (i) => [i.location_label, i.area].filter(Boolean).join(", ") || i.device_id || "–";

function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows);
  const stamp = document.getElementById("refreshed");
  if (stamp) stamp.textContent = "· " + new Date().toLocaleTimeString("id-ID", { hour12: false });
}

function poll(fn) {
  const run = async () => {
    try { await fn(); showError(""); } catch (e) { if (e.message !== "401") showError(e.message); }
  };
  run();
  setInterval(run, POLL_MS);
}

// ---- login -----------------------------------------------------------------
function initLogin() {
  document.getElementById("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    try {
      const user = await api("/api/auth/login", { method: "POST", body: JSON.stringify(Object.fromEntries(form)) });
      const next = new URLSearchParams(location.search).get("next");
      const home = user.role === "opd" ? "/opd" : user.role === "operator" ? "/console" : "/dashboard";
      location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : home;
    } catch (e) {
      showError("Login gagal / login failed: " + e.message);
    }
  });
}

// ---- KPI dashboard -------------------------------------------------------------
async function refreshDashboard() {
  const k = await api("/api/kpis");
  document.getElementById("k-incidents").textContent = k.incidents;
  document.getElementById("k-backlog").textContent = k.open_backlog;
  document.getElementById("k-prank").textContent = fmtPct(k.prank_test_share);
  document.getElementById("k-answer").textContent = fmtPct(k.calls.within_15s);
  const opds = [...k.opds].sort((a, b) => (a.ack_median_s ?? Infinity) - (b.ack_median_s ?? Infinity));
  fillRows(document.querySelector("#opd-kpis tbody"), opds.map((o) => el("tr", { "data-opd": o.opd },
    el("td", { title: o.name }, o.name), el("td", {}, o.count), el("td", {}, o.open),
    el("td", { class: "num" }, fmtDur(o.ack_median_s)), el("td", { class: "num" }, fmtDur(o.ack_p90_s)),
    el("td", { class: "num" }, fmtDur(o.resolve_median_s)), el("td", { class: "num" }, fmtDur(o.resolve_p90_s)),
    el("td", { class: "num" }, fmtPct(o.ack_sla_compliance)), el("td", { class: "num" }, fmtPct(o.resolve_sla_compliance)),
    el("td", { class: "num" }, o.escalations))));
  const d = await api("/api/kpis/declines");
  document.querySelector("#decline-kpis tbody").replaceChildren(...d.opds.filter((o) => o.declines).map((o) => el("tr", { "data-opd": o.opd },
    el("td", {}, o.name), el("td", { class: "num" }, o.declines),
    el("td", {}, Object.entries(o.by_reason).map(([r, n]) => `${DECLINE[r] || r}: ${n}`).join(", ")),
    el("td", { class: "num" + (o.wrong ? " fault" : "") }, o.wrong), el("td", { class: "num" }, fmtDur(o.reroute_median_s)),
    el("td", { class: "num" }, fmtDur(o.reroute_p90_s)), el("td", { class: "num" }, o.waiting))));
  const cats = Object.entries(k.by_category).sort((a, b) => b[1] - a[1]);
  document.querySelector("#by-category tbody").replaceChildren(...cats.map(([c, n]) => el("tr", {}, el("td", {}, c), el("td", { class: "num" }, n))));
  const c = k.calls;
  const rows = [["Panggilan / Calls", c.calls], ["Dijawab / Answered", c.answered], ["Tak terjawab / Missed", c.missed],
    ["Waktu jawab median / Answer median", fmtDur(c.answer_median_s)], ["Waktu jawab p90", fmtDur(c.answer_p90_s)],
    ["≤15 s (target 90 %)", fmtPct(c.within_15s)], ["≤20 s (target 95 %)", fmtPct(c.within_20s)]];
  document.querySelector("#calls tbody").replaceChildren(...rows.map(([a, b]) => el("tr", {}, el("td", {}, a), el("td", { class: "num" }, b))));
}

// ---- boot -----------------------------------------------------------------------
async function boot() {
  if (page === "login") return initLogin();
  try { me = await api("/api/auth/me"); } catch (e) { return; }
  document.getElementById("who").textContent = `${me.username} (${me.role}${me.opd ? ": " + me.opd : ""})`;
  const logout = document.getElementById("logout");
  logout.hidden = false;
  logout.addEventListener("click", async () => { await api("/api/auth/logout", { method: "POST" }); location.href = "/login"; });
  for (const a of document.querySelectorAll("nav a")) a.hidden = !a.dataset.roles.split(" ").includes(me.role);
  ({ console: initConsole, opd: () => poll(refreshOpd), dashboard: () => poll(refreshDashboard), fleet: initFleet,
    flags: () => poll(refreshFlags) })[page]();
}

boot();
