// Siaga 112 pages: read the REST API, render with textContent only (never
// innerHTML with data: descriptions come from the public), poll for changes.
"use strict";

const page = document.body.dataset.page;
const POLL_MS = 3000;
let me = null;
// the message catalogue (GET /api/labels): codes in words, in the language this user chose here
let WORDS = {};
let LANG = "id";
const word = (kind, code) => (code === null || code === undefined || code === "" ? "–" : (WORDS[kind] || {})[code] || code);
const langKey = () => `siaga.lang.${me ? me.username : ""}`;

async function loadWords() {
  LANG = localStorage.getItem(langKey()) === "en" ? "en" : "id";
  document.documentElement.lang = LANG;
  WORDS = await api(`/api/labels?lang=${LANG}`);
}

// one button in the header: Bahasa Indonesia or English for the words from the catalogue
function langSwitch() {
  const b = document.getElementById("lang");
  if (!b) return;
  b.hidden = false;
  b.textContent = LANG === "id" ? "English" : "Bahasa Indonesia";
  b.addEventListener("click", () => { localStorage.setItem(langKey(), LANG === "id" ? "en" : "id"); location.reload(); });
}

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
const place = (i) => {
  const where = [i.location_label, i.area].filter(Boolean).join(", ") || i.device_id || "–";
  return i.city ? `${i.city_name || i.city} · ${where}` : where; // a province: the city first
};

// a redraw keeps what was picked in a row's drop-downs (an OPD chosen but not
// yet sent): the choice belongs to the person, not to the last list read
function fillRows(tbody, rows) {
  const picked = new Map();
  for (const s of tbody.querySelectorAll("tr[data-id] select")) {
    const id = s.closest("tr").dataset.id;
    picked.set(id, [...(picked.get(id) || []), s.value]);
  }
  for (const r of rows) {
    const kept = picked.get(r.dataset?.id);
    if (!kept) continue;
    r.querySelectorAll("select").forEach((s, k) => {
      if (kept[k] !== undefined && [...s.options].some((o) => o.value === kept[k])) s.value = kept[k];
    });
  }
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

// the KPI dashboard: dashboard.js (loaded by that page only, with Chart.js)

// ---- boot -----------------------------------------------------------------------
async function boot() {
  if (page === "login") return initLogin();
  try { me = await api("/api/auth/me"); await loadWords(); } catch (e) { return; }
  document.getElementById("who").textContent = `${me.username} (${word("role", me.role)}${me.opd ? ": " + me.opd : ""})`;
  langSwitch();
  const logout = document.getElementById("logout");
  logout.hidden = false;
  logout.addEventListener("click", async () => { await api("/api/auth/logout", { method: "POST" }); location.href = "/login"; });
  for (const a of document.querySelectorAll("nav a")) a.hidden = !a.dataset.roles.split(" ").includes(me.role);
  ({ console: initConsole, opd: () => poll(refreshOpd), dashboard: () => initDashboard(), fleet: initFleet,
    flags: () => poll(refreshFlags), case: initCase })[page]();
}

boot();
