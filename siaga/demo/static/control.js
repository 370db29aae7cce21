// Siaga 112 demo control page: press the simulated units' buttons, cut their
// networks, break their parts, and watch LEDs and cases (siaga/demo/control.py).
// Text goes in with textContent only.
"use strict";

const $ = (sel) => document.querySelector(sel);
function el(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) n.addEventListener(k.slice(2), v); else n.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k != null) n.append(k instanceof Node ? k : String(k));
  return n;
}

const BOX_BUTTONS = [["medical", "Medis / Medical"], ["fire", "Kebakaran / Fire"], ["security", "Keamanan / Security"]];
const PANEL_KEYS = [["answer", "Angkat / Answer"], ["hangup", "Tutup / Hang up"], ["cat_medical", "Medis"],
  ["cat_fire", "Kebakaran"], ["cat_accident", "Kecelakaan"], ["cat_disaster", "Bencana"], ["cat_security", "Keamanan"],
  ["cat_prank", "Iseng / Prank"], ["cat_other", "Lainnya / Other"], ["type_ghost", "Senyap / Silent line"]];
const LEDS = {
  recorded: ["c-yellow", "Tercatat / Recorded"], delivered: ["c-green", "Terkirim / Delivered"],
  fault: ["c-red", "Gangguan / Fault"], ring: ["c-amber", "Berdering / Ringing"], active: ["c-green", "Bicara / In call"],
  flagged: ["c-white", "Nomor ditandai / Flagged number"],
};
const PANEL_DELIVERED = ["c-blue", "Terkirim / Delivered"];
const PARTS = [["led_recorded", "lampu kuning"], ["led_delivered", "lampu hijau"], ["led_fault", "lampu merah"],
  ["buzzer", "buzzer"], ["speaker", "pengeras suara"], ["mic", "mikrofon"]];
const STATUS = { received: "Masuk / Received", triaged: "Diverifikasi / Triaged", dispatched: "Dikirim ke OPD / Dispatched",
  acknowledged: "Ditanggapi OPD / Acknowledged", on_scene: "Petugas di lokasi / On scene", resolved: "Selesai / Resolved",
  closed: "Ditutup / Closed", rejected: "Ditolak / Rejected" };
const PART_STATUS = { dispatched: "menunggu / waiting", acknowledged: "ditanggapi / acknowledged",
  on_scene: "di lokasi / on scene", resolved: "selesai / resolved" };
const CALL = { dialling: "memanggil / dialling", alerting: "menunggu diangkat / ringing out",
  active: "sedang bicara / in a call" };
const SOURCE = { field_button: "Tombol kotak / Box button", panel_call: "Telepon 112 / 112 call", operator: "Operator",
  sms: "SMS" };

let seenCases = null;
let lastUnits = "";

async function act(action, body) {
  const out = $("#result");
  try {
    const r = await fetch(`/api/act/${action}`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
    const data = await r.json();
    out.className = r.ok ? "" : "error";
    out.textContent = r.ok ? data.reply : `Gagal / Failed: ${data.error}`;
  } catch (e) {
    out.className = "error";
    out.textContent = `Gagal / Failed: ${e.message}`;
  }
  refresh();
}

function ledRow(u) {
  return el("div", { class: "leds" }, Object.entries(u.leds).map(([name, lit]) => {
    const [colour, words] = (u.profile === "panel" && name === "delivered") ? PANEL_DELIVERED : (LEDS[name] || ["c-red", name]);
    return el("span", { class: `led ${colour}${lit ? " on" : ""}`, "data-led": name }, words);
  }));
}

function statusLine(u) {
  const ip = u.ip_cut ? el("b", { class: "bad" }, "IP diputus / cut")
    : u.connected ? el("b", { class: "good" }, "IP terhubung / connected") : el("b", { class: "bad" }, "IP terputus / disconnected");
  const gsm = u.coverage === false ? el("b", { class: "bad" }, "GSM tanpa sinyal / no coverage")
    : el("b", { class: "good" }, "GSM ada sinyal / coverage");
  return el("div", { class: "status" }, ip, " · ", gsm, " · ", `antrian / outbox ${u.outbox ?? "–"}`,
    u.ringing ? el("b", { class: "bad ringing" }, ` · BERDERING / RINGING: ${u.other_party || "nomor disembunyikan / withheld"}`) : CALL[u.call] ? ` · telepon / call: ${CALL[u.call]}` : "",
    u.faults && u.faults.length ? el("div", {}, `gangguan / faults: ${u.faults.join(", ")}`) : "");
}

function toggles(u) {
  return el("div", { class: "row" },
    el("button", { type: "button", class: "toggle", "aria-pressed": String(u.ip_cut), "data-act": "ip",
      onclick: () => act("ip", { device: u.id, cut: !u.ip_cut }) }, "Putus IP / Cut IP"),
    el("button", { type: "button", class: "toggle", "aria-pressed": String(u.coverage === false), "data-act": "coverage",
      onclick: () => act("coverage", { device: u.id, on: u.coverage === false }) }, "Putus GSM / Cut GSM"));
}

function partsRow(u) {
  const broken = new Set(u.broken);
  return el("div", { class: "parts" }, "Rusakkan / Break: ",
    PARTS.map(([part, words]) => el("button", { type: "button", class: "toggle", "aria-pressed": String(broken.has(part)),
      "data-part": part, onclick: () => act("part", { device: u.id, part, dead: !broken.has(part) }) }, words)),
    el("button", { type: "button", class: "toggle", "data-act": "selftest",
      onclick: (ev) => { ev.target.textContent = "menguji… / testing…"; act("selftest", { device: u.id }); } },
      "Uji mandiri / Self-test"),
    u.selftest ? el("div", { class: "selftest" }, u.selftest.ok ? "Uji mandiri lulus / self-test passed"
      : `Uji mandiri GAGAL / self-test FAILED: ${u.selftest.failed.join(", ")}`) : "");
}

function boxCard(u) {
  return el("div", { class: `card${u.ip_cut || u.coverage === false ? " off" : ""}`, "data-unit": u.id },
    el("h3", {}, u.place), el("small", {}, `${u.id} · ${u.number || ""}`),
    el("div", { class: "row" }, BOX_BUTTONS.map(([b, words]) => el("button", { type: "button", class: `big ${b}`,
      "data-button": b, onclick: () => act("press", { device: u.id, button: b }) }, words))),
    ledRow(u), statusLine(u), toggles(u), partsRow(u));
}

function panelCard(u) {
  return [el("h2", {}, `Panel pusat panggilan / Call-centre panel `, el("small", {}, `${u.id} · ${u.number}`)),
    el("div", { class: "row" }, PANEL_KEYS.map(([b, words]) => el("button", { type: "button", class: `key ${b}`,
      "data-button": b, onclick: () => act("press", { device: u.id, button: b }) }, words))),
    ledRow(u), statusLine(u), toggles(u)];
}

function caseRows(cases) {
  const fresh = seenCases ? cases.filter((c) => !seenCases.has(c.case_no)).map((c) => c.case_no) : [];
  seenCases = new Set(cases.map((c) => c.case_no));
  return cases.map((c) => el("tr", { class: `st-${c.status}${fresh.includes(c.case_no) ? " fresh" : ""}`, "data-id": c.id },
    el("td", {}, c.case_no),
    el("td", {}, SOURCE[c.source] || c.source, el("br"), el("small", {}, [c.place, c.caller, c.device].filter(Boolean).join(" · "))),
    el("td", {}, c.category), el("td", {}, el("span", { class: "badge" }, STATUS[c.status] || c.status)),
    el("td", {}, c.opds.map((a) => `${a.opd}: ${PART_STATUS[a.status] || a.status}`).join(", ") || "–"),
    el("td", {}, new Date(c.received_at).toLocaleTimeString("id-ID", { hour12: false }))));
}

async function refresh() {
  let s;
  try {
    s = await (await fetch("/api/state")).json();
  } catch (e) {
    $("#refreshed").textContent = ` · tidak tersambung / not connected (${e.message})`;
    return;
  }
  const units = JSON.stringify(s.units);
  if (units !== lastUnits) { // redraw only on a change, so a click is never lost to a redraw
    lastUnits = units;
    $("#boxes").replaceChildren(...s.units.filter((u) => u.profile === "field").map(boxCard));
    const panel = s.units.find((u) => u.profile === "panel");
    if (panel) {
      $("#panel-card").setAttribute("data-unit", panel.id);
      $("#panel-card").replaceChildren(...panelCard(panel));
    }
  }
  if (s.gateway_url) $("#console-link").href = `${s.gateway_url}/console`;
  $("#cases tbody").replaceChildren(...caseRows(s.cases));
  $("#actions").replaceChildren(...s.actions.map((a) => el("li", {}, a.reply)));
  $("#sms-log").replaceChildren(...s.sms_log.slice().reverse().map((m) => el("li", {}, `${m.from} → ${m.to}: ${m.text} (${m.fate})`)));
  if (!$("#sms-to").value) $("#sms-to").value = s.centre_sms;
  $("#centre-gsm").setAttribute("aria-pressed", String(s.centre_coverage === false));
  $("#refreshed").textContent = ` · ${new Date().toLocaleTimeString("id-ID", { hour12: false })}`;
}

$("#centre-gsm").addEventListener("click", () =>
  act("coverage", { centre: true, on: $("#centre-gsm").getAttribute("aria-pressed") === "true" }));
$("#ring").addEventListener("click", () => act("ring", { from: $("#ring-from").value }));
$("#sms").addEventListener("click", () => act("sms", { from: $("#sms-from").value, to: $("#sms-to").value, text: $("#sms-text").value }));
refresh();
setInterval(refresh, 1000);
