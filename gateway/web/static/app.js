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

// the KPI dashboard: dashboard.js (loaded by that page only, with Chart.js)

// ---- fleet --------------------------------------------------------------------
let fleetApi = true; // /api/fleet (central's health watch) when the gateway hosts it

async function refreshFleet() {
  if (fleetApi) {
    try {
      const rows = await api("/api/fleet/devices");
      fillRows(document.querySelector("#devices tbody"), rows.map((d) => {
        const state = d.revoked ? "revoked" : !d.enabled ? "disabled" : d.online ? "online" : "offline";
        const loc = d.location || {};
        return el("tr", { "data-id": d.id, class: d.online ? "online" : "offline" },
          el("td", {}, d.id), el("td", {}, d.profile), el("td", {}, [loc.label, loc.area].filter(Boolean).join(", ") || "–"),
          el("td", {}, el("span", { class: "badge", "data-state": state }, word("device_state", state))), el("td", {}, fmtTime(d.last_seen)),
          el("td", { class: "num" }, d.signal_dbm != null ? `${d.signal_dbm} dBm` : "–"),
          el("td", { class: "num" }, d.outbox_depth ?? "–"),
          el("td", { class: d.faults.length ? "fault" : "" }, d.faults.join(", ") || "–"),
          selfTestCell(d.self_test),
          el("td", { class: "firmware" }, softwareText(d.firmware, d.update)));
      }));
      return await refreshRollout();
    } catch (e) {
      if (!/^40[34]/.test(e.message)) throw e;
      fleetApi = false; // not hosted here, or this role may not use it: the plain device list
    }
  }
  const devices = await api("/api/devices");
  fillRows(document.querySelector("#devices tbody"), devices.map((d) => {
    const t = d.last_telemetry || {};
    const online = d.last_status === "online";
    return el("tr", { "data-id": d.id, class: online ? "online" : "offline" },
      el("td", {}, d.id), el("td", {}, d.profile), el("td", {}, [d.label, d.area].filter(Boolean).join(", ") || "–"),
      el("td", {}, el("span", { class: "badge" }, word("device_state", d.enabled ? (d.last_status || "unknown") : "disabled"))),
      el("td", {}, fmtTime(d.last_seen)), el("td", { class: "num" }, t.signal_dbm != null ? `${t.signal_dbm} dBm` : "–"),
      el("td", { class: "num" }, t.outbox_depth ?? "–"), el("td", {}, (t.faults || []).join(", ") || "–"),
      selfTestCell(t.self_test), el("td", { class: "firmware" }, softwareText(t.firmware, t.update)));
  }));
}

// the unit's last self-test (Telemetry.self_test): when, how it ran, and the failed parts in words
const PARTS = {
  led_recorded: "lampu kuning / recorded LED", led_delivered: "lampu hijau / delivered LED",
  led_fault: "lampu merah / fault LED", led_ring: "lampu dering / ring LED", led_active: "lampu bicara / call LED",
  led_flagged: "lampu tanda / flagged LED", buzzer: "buzzer", load_sense: "sensor arus / load sense",
  modem: "modem", sim: "kartu SIM / SIM card", registration: "jaringan GSM / GSM network",
  signal: "sinyal / signal", speaker: "pengeras suara / speaker", microphone: "mikrofon / microphone",
  storage: "penyimpanan / storage", clock: "jam / clock",
};
const TRIGGERS = { daily: "harian / daily", command: "diminta / on demand", update: "pembaruan / update" };
function partName(check) {
  if (PARTS[check]) return PARTS[check];
  if (check.startsWith("button_")) return `tombol / button ${check.slice(7)}`;
  return check;
}
function selfTestCell(st) {
  if (!st) return el("td", { class: "selftest" }, "–");
  const when = `${fmtTime(st.at)}, ${TRIGGERS[st.trigger] || st.trigger}`;
  if (st.ok) return el("td", { class: "selftest" }, `lulus / passed (${when})`);
  return el("td", { class: "selftest fault" },
    `GAGAL / FAILED: ${st.failed.map(partName).join(", ")} (${when})`);
}

// the running version, and the last update while it is not simply confirmed
function softwareText(firmware, update) {
  let text = firmware || "–";
  if (update && !(update.state === "confirmed" && update.version === firmware)) {
    text += ` (${update.version}: ${update.state}${update.error ? " – " + update.error : ""})`;
  }
  return text;
}

// the newest staged rollout and each unit's state in it (docs/updates.md)
async function refreshRollout() {
  const list = await api("/api/fleet/rollouts");
  const card = document.getElementById("rollout-card");
  card.hidden = !list.length;
  if (!list.length) return;
  const r = list[0];
  const counts = Object.entries(r.counts).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(", ");
  document.getElementById("rollout-summary").textContent =
    `${r.version}: ${r.state}, gelombang / wave ${r.wave + 1}/${r.waves.length}; ${counts}${r.reason ? " – " + r.reason : ""}`;
  fillRows(document.querySelector("#rollout tbody"), r.units.map((u) =>
    el("tr", { "data-id": u.device, class: u.state },
      el("td", {}, u.device), el("td", { class: "num" }, u.wave + 1), el("td", {}, el("span", { class: "badge" }, u.state)),
      el("td", {}, u.error || "–"), el("td", {}, fmtTime(u.updated_at)))));
}

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
  ({ console: initConsole, opd: () => poll(refreshOpd), dashboard: () => initDashboard(), fleet: () => poll(refreshFleet),
    flags: () => poll(refreshFlags), case: initCase })[page]();
}

boot();
