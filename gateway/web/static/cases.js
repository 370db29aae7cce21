// Siaga 112 cases: the operator console and the OPD portal. What may be done
// next comes from the API (allowed_actions); this file only turns codes into
// words and buttons (textContent only). Uses el/api/poll/... from app.js.
"use strict";

// an SMS from a citizen's phone (no device) is an "SMS report"; a unit's SMS fallback names the box;
// a field box's dial-out is linked to its case by call_id (☎, the call id in the tooltip)
const source = (i) => (i.source === "sms" ? (i.device_id ? "SMS kotak / unit SMS" : "Laporan SMS / SMS report")
  : word("source", i.source)) + (i.call_id ? " \u260E" : "");
let opdNames = {};
let opdInfo = {}; // id -> the OPD (contacts with phone numbers, for a phone hand-off)
// after a step: the page that drew the buttons reads again (the console's list, the case page)
let afterAction = () => refreshConsole("action");
let afterStep = () => refreshOpd(true);

const opdName = (id) => opdNames[id] || id;
const declineText = (a) => `Ditolak oleh ${opdName(a.opd)}: ${word("decline", a.decline_reason)}` + (a.decline_note ? ` (${a.decline_note})` : "");
const attentionText = (i) => { const d = i.assignments.filter((a) => a.status === "declined" && !a.rerouted_at).slice(-1)[0]; return d ? declineText(d) : i.attention; };
const responderText = (a) => (a.responder ? `${word("responder_kind", a.responder_kind || "person")}: ${a.responder}` : "");

// a poll must not wipe what a person is typing or choosing
function busy(container) {
  const f = document.activeElement;
  return Boolean(container && ((f && f !== document.body && container.contains(f) && ["INPUT", "SELECT", "TEXTAREA"].includes(f.tagName))
    || container.querySelector("details[open]")));
}

async function loadOpds() {
  if (Object.keys(opdNames).length) return;
  for (const o of await api("/api/opds")) { opdNames[o.id] = o.name; opdInfo[o.id] = o; }
}

function partLine(a) {
  const bits = [`${opdName(a.opd)} — ${word("assignment", a.status)}`];
  if (a.responder) bits.push(responderText(a));
  if (a.status === "declined") bits.push(word("decline", a.decline_reason));
  if (a.decline_wrong) bits.push("penolakan dinilai keliru");
  return el("div", { class: `part part-${a.status}`, "data-opd": a.opd, "data-status": a.status }, bits.join(" · "));
}

// ---- staff console -------------------------------------------------------------
const FINISHED = new Set(["resolved", "closed", "rejected"]);
const alerted = new Set(); // new critical cases not yet opened by this operator
const known = new Set(); // cases this page has shown (the first list alerts nobody)
let primed = false;
let retry = null;

async function post(path, body) {
  return api(path, { method: "POST", body: JSON.stringify(body) });
}

// a case-level step from allowed_actions: a status, "rejected:<reason>", or "type:<junk call type>";
// dispatch goes to ``opds`` (chosen at triage) or the rules' suggestion, after a confirmation
async function caseStep(inc, step, opds = null) {
  const [to, reason] = step.split(":");
  if (to === "type") return post(`/api/incidents/${inc.id}/call-type`, { call_type: reason });
  if (to === "dispatched") {
    const chosen = opds || inc.suggested_opds;
    if (!chosen.length) { showError("Pilih OPD tujuan dulu (halaman kasus). / Choose the OPDs first (case page)."); return null; }
    if (!confirm(`Kirim kasus ${inc.case_no || inc.id} ke ${chosen.map(opdName).join(", ")}? / Dispatch this case?`)) return null;
    return post(`/api/incidents/${inc.id}/transitions`, { to, opds: chosen });
  }
  return post(`/api/incidents/${inc.id}/transitions`, reason ? { to, reason } : { to });
}

function opdSelect(exclude) {
  return el("select", { class: "small" }, ...Object.entries(opdNames).filter(([id]) => !exclude.includes(id))
    .map(([id, name]) => el("option", { value: id }, name)));
}

function consoleActions(inc) {
  const act = (fn) => async () => { try { if ((await fn()) !== null) await afterAction(); } catch (e) { showError(e.message); } };
  const out = inc.allowed_actions.filter((s) => !["assign", "merge", "handoff"].includes(s)).map((step) => (
    step === "dispatched" && !inc.suggested_opds.length // no OPD by the rules: choose them on the case page
      ? el("a", { class: "small choose", href: `/cases/${encodeURIComponent(inc.id)}`, "data-step": "choose" }, "Pilih OPD… / Choose OPDs…")
      : el("button", { class: /^(type|rejected):/.test(step) ? "small secondary" : "small", "data-step": step,
        onclick: act(() => caseStep(inc, step)) }, word("action", step))));
  const taken = inc.assignments.filter((a) => !["declined", "withdrawn"].includes(a.status)).map((a) => a.opd);
  const movable = inc.assignments.filter((x) => x.allowed_actions.includes("reroute"));
  if (!inc.allowed_actions.includes("assign") && !movable.length) return out;
  // one OPD picker per case: "add" gives it the case, "move from X" re-routes X's part to it
  const pick = opdSelect(taken);
  const group = el("div", { class: "assign" }, pick);
  if (inc.allowed_actions.includes("assign")) {
    group.append(el("button", { class: "small", "data-step": "assign",
      onclick: act(() => post(`/api/incidents/${inc.id}/assignments`, { opds: [pick.value] })) }, word("action", "assign")));
  }
  for (const a of movable) {
    group.append(el("button", { class: "small secondary", "data-step": `reroute:${a.opd}`,
      onclick: act(() => post(`/api/incidents/${inc.id}/assignments`, { opds: [pick.value], withdraw: a.opd })) },
    `${word("action", "reroute")} ${opdName(a.opd)}`));
  }
  out.push(group);
  return out;
}

// the SLA clock a case is on: the OPD's acknowledgement once dispatched, else its own
function slaDue(i) {
  const a = i.assignments.find((x) => x.status === "dispatched");
  const from = a ? a.dispatched_at : i.received_at;
  const min = a ? a.sla_ack_min : i.sla_ack_min;
  if (!min || FINISHED.has(i.status) || (i.assignments.length && !a)) return null;
  return new Date(from).getTime() + min * 60000;
}

function slaText(due) {
  if (!due) return "–";
  const s = Math.round((due - Date.now()) / 1000);
  const mmss = `${Math.floor(Math.abs(s) / 60)}:${String(Math.abs(s) % 60).padStart(2, "0")}`;
  return s >= 0 ? `sisa / left ${mmss}` : `LEWAT / overdue ${mmss}`;
}

function beep() {
  try {
    const ctx = new AudioContext();
    const o = ctx.createOscillator();
    o.frequency.value = 880;
    o.connect(ctx.destination);
    o.start();
    o.stop(ctx.currentTime + 0.4);
  } catch (_) { /* no audio device */ }
}

// a case no OPD of the system takes: who to phone, and "handed off" once someone took it
function handoffCell(i) {
  const phones = i.handoff_to.flatMap((o) => (opdInfo[o] ? opdInfo[o].contacts : []).filter((c) => c.phone)
    .map((c) => el("a", { class: "phone", href: `tel:${c.phone}` }, `${opdName(o)} ${c.phone}`)));
  return el("div", { class: "handoff-cell" }, el("strong", {}, "TELEPON / PHONE: "),
    ...(phones.length ? phones : [i.handoff_to.map(opdName).join(", ") || "tangani lewat telepon / handle by phone"]),
    el("button", { class: "small", "data-step": "handoff", onclick: async (ev) => {
      ev.stopPropagation();
      const who = prompt("Diterima oleh siapa? (nama, jabatan) / Who took it?");
      if (!who || !who.trim()) return;
      try { await post(`/api/incidents/${i.id}/handoff`, { to: i.handoff_to[0] || null, note: who.trim() }); await afterAction(); }
      catch (e) { showError(e.message); }
    } }, word("action", "handoff")));
}

function caseRow(i, via) {
  const handoff = i.allowed_actions.includes("handoff");
  const cls = `st-${i.status}${i.escalated ? " escalated" : ""}${i.attention ? " attention" : ""}${alerted.has(i.id) ? " alert" : ""}${handoff ? " handoff" : ""}`;
  return el("tr", { "data-id": i.id, "data-status": i.status, "data-via": via, class: cls,
    onclick: (ev) => { alerted.delete(i.id); ev.currentTarget.classList.remove("alert"); } },
  el("td", {}, el("a", { href: `/cases/${encodeURIComponent(i.id)}`, class: "case-link" }, i.case_no || i.id.slice(-6))),
  el("td", {}, el("span", { class: "badge" }, word("status", i.status)),
    i.attention ? el("div", { class: "flag" }, attentionText(i)) : "", handoff ? handoffCell(i) : ""),
  el("td", {}, word("category", i.category)), el("td", { class: "call-type" }, word("call_type", i.call_type)),
  el("td", { class: "source", title: i.call_id ? `panggilan / call ${i.call_id}` : "" }, source(i)),
  el("td", {}, place(i)),
  el("td", {}, ...(i.assignments.length ? i.assignments.map(partLine) : ["–"])),
  el("td", {}, fmtTime(i.received_at)), el("td", { class: "sla", "data-due": slaDue(i) }, slaText(slaDue(i))),
  el("td", {}, ...consoleActions(i)));
}

// live cases by priority then age, finished apart; a new critical case is highlighted and beeps
// the cases this console holds: a full read at start, on a filter, a resync, a poll and every
// 30 s; after a pushed event only what changed since (a few rows, not 200: 50 consoles in a surge)
const held = new Map();
let heldSince = null; // newest updated_at held (ms)
let fullAt = 0;
const OVERLAP_MS = 5000; // a commit that lands a little after a later one is still read

async function refreshConsole(via = "poll") {
  await loadOpds();
  const status = document.getElementById("status-filter").value;
  const city = document.getElementById("city-filter")?.value; // a province gateway's console
  const delta = via === "push" && !status && !city && heldSince !== null && Date.now() - fullAt < 30000;
  const q = new URLSearchParams({ limit: delta ? "500" : "200" });
  if (status) q.set("status", status);
  if (city) q.set("city", city);
  // rounded down to 5 s: consoles holding about the same cases ask the same question (the gateway's list cache)
  if (delta) q.set("updated_since", new Date(Math.floor((heldSince - OVERLAP_MS) / 5000) * 5000).toISOString());
  const pageData = await api("/api/incidents?" + q);
  const table = document.querySelector("#incidents");
  if (busy(table) && (via === "poll" || via === "push")) { // never wipe a choice being made: try again soon
    if (!retry) retry = setTimeout(() => { retry = null; refreshConsole(via).catch(() => {}); }, 1000);
    return;
  }
  if (!delta) { held.clear(); heldSince = null; fullAt = Date.now(); }
  for (const i of pageData.items) {
    held.set(i.id, i);
    heldSince = Math.max(heldSince ?? 0, Date.parse(i.updated_at));
  }
  const items = [...held.values()];
  const live = items.filter((i) => !FINISHED.has(i.status))
    .sort((a, b) => a.priority - b.priority || new Date(a.received_at) - new Date(b.received_at));
  const finished = items.filter((i) => FINISHED.has(i.status))
    .sort((a, b) => new Date(b.received_at) - new Date(a.received_at));
  const done = finished.slice(0, 30);
  for (const i of finished.slice(200)) held.delete(i.id); // what a console holds stays bounded
  let fresh = false;
  for (const i of live) {
    if (known.has(i.id)) continue;
    known.add(i.id);
    if (primed && i.priority <= 1) { alerted.add(i.id); fresh = true; }
  }
  primed = true;
  if (fresh) beep();
  document.body.dataset.live = via;
  fillRows(document.querySelector("#finished tbody"), done.map((i) => caseRow(i, via)));
  fillRows(table.querySelector("tbody"), live.map((i) => caseRow(i, via)));
}

// pushed: the gateway's server-sent events re-read the list at once; the
// 3 s poll runs only while the event stream is down (fallback)
// one list read at a time, and while events keep coming at most one per
// READ_GAP_MS: events during a read or soon after one coalesce into one read
// at the next whole second, so in a surge every console asks the same
// question at the same moment and the gateway answers all with one query
// (a burst of 50 cases costs one read per console per second, not fifty)
const READ_GAP_MS = 1000;
function paced(fn, gapMs) {
  let running = false;
  let timer = null;
  let pending = null;
  let last = -Infinity;
  const start = async () => {
    timer = null;
    const via = pending;
    pending = null;
    running = true;
    last = Date.now();
    try { await fn(via); } finally { running = false; if (pending) plan(); }
  };
  const plan = () => {
    if (running || timer) return;
    const now = Date.now();
    timer = setTimeout(start, now - last >= gapMs ? 0 : gapMs - (now % gapMs));
  };
  return (via) => { pending = via; plan(); };
}

function liveQueue() {
  let open = false;
  const run = paced(async (via) => {
    try { await refreshConsole(via); } catch (e) { if (e.message !== "401") showError(e.message); }
  }, READ_GAP_MS);
  if (window.EventSource) {
    const es = new EventSource("/api/events");
    es.addEventListener("hello", () => { open = true; run("push"); });
    es.addEventListener("case", () => run("push"));
    es.addEventListener("resync", () => run("push"));
    es.onerror = () => { open = false; };
  }
  run("poll");
  setInterval(() => { if (!open) run("poll"); }, POLL_MS);
  setInterval(() => { // the countdown ticks between pushes
    for (const td of document.querySelectorAll("td.sla[data-due]")) td.textContent = slaText(Number(td.dataset.due));
  }, 1000);
}

async function initConsole() {
  document.getElementById("category-select").replaceChildren(
    ...Object.entries(WORDS.category).map(([c, label]) => el("option", { value: c }, label)));
  document.getElementById("status-filter").append(
    ...Object.entries(WORDS.status).map(([c, label]) => el("option", { value: c }, label)));
  document.getElementById("call-type-select").replaceChildren(el("option", { value: "" }, "–"),
    ...Object.entries(WORDS.call_type).filter(([c]) => c !== "untyped").map(([c, label]) => el("option", { value: c }, label)));
  document.getElementById("status-filter").addEventListener("change", () => refreshConsole("filter"));
  document.getElementById("city-filter")?.addEventListener("change", () => refreshConsole("filter"));
  watchCaller(document.querySelector("#new-incident [name=caller]"));
  watchDesks();
  document.getElementById("new-incident").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(ev.target));
    const body = { category: f.category };
    for (const k of ["caller", "call_type", "description"]) if (f[k]) body[k] = f[k];
    if (f.area) body.location = { area: f.area };
    clearFieldErrors(ev.target);
    if ((f.description || "").length > 2000) {
      return fieldError(ev.target, "description", "Keterangan terlalu panjang: paling banyak 2000 karakter. / description: at most 2000 characters.");
    }
    try { await post("/api/incidents", body); ev.target.reset(); await refreshConsole("action"); }
    catch (e) {
      if (!e.fields || !e.fields.length) return showError(e.message);
      for (const d of e.fields) fieldError(ev.target, FIELD_OF[d.loc[d.loc.length - 1]] || d.loc[d.loc.length - 1], d.msg);
    }
  });
  liveQueue();
}

// ---- OPD portal: one card per case, for a duty officer's phone ------------------
function stepControls(inc, a) {
  const steps = a.allowed_actions.filter((s) => s !== "reroute");
  const send = async (body) => {
    try { await post(`/api/incidents/${encodeURIComponent(inc.id)}/steps`, { opd: a.opd, ...body }); await afterStep(); }
    catch (e) { showError(e.message); }
  };
  const out = [];
  if (steps.includes("acknowledged") || steps.includes("responder")) {
    const who = el("input", { name: "responder", placeholder: "Regu / kendaraan / nama petugas", maxlength: "200", value: a.responder || "" });
    const kind = el("select", { name: "responder_kind" }, ...Object.entries(WORDS.responder_kind).map(([k, v]) => el("option", { value: k }, v)));
    if (a.responder_kind) kind.value = a.responder_kind;
    const step = steps.includes("acknowledged") ? "acknowledged" : "responder";
    out.push(el("div", { class: "row" }, who, kind, el("button", { "data-step": step,
      onclick: () => send({ step, responder: who.value || null, responder_kind: kind.value }) }, word("action", step))));
  }
  const plain = steps.filter((s) => ["on_scene", "resolved"].includes(s));
  if (plain.length) out.push(el("div", { class: "row" }, ...plain.map((s) => el("button", { "data-step": s, onclick: () => send({ step: s }) }, word("action", s)))));
  if (steps.includes("declined")) {
    const why = el("select", { name: "reason" }, ...Object.entries(WORDS.decline).map(([k, v]) => el("option", { value: k }, v)));
    const note = el("input", { name: "note", placeholder: "Keterangan (boleh kosong)", maxlength: "2000" });
    out.push(el("details", { class: "decline" }, el("summary", {}, "Bukan untuk kami? Tolak kasus"),
      el("div", { class: "row" }, why, note, el("button", { class: "secondary", "data-step": "declined",
        onclick: () => send({ step: "declined", reason: why.value, note: note.value || null }) }, word("action", "declined")))));
  }
  return out;
}

async function refreshOpd(force = false) {
  await loadOpds();
  const data = await api("/api/incidents?limit=50");
  if (busy(document.getElementById("opd-cases")) && !force) return;
  const mine = me && me.opd;
  document.getElementById("opd-cases").replaceChildren(...data.items.flatMap((i) => i.assignments
    .filter((a) => (mine ? a.opd === mine : true) && a.status !== "withdrawn").map((a) => {
      const due = a.status === "dispatched" && a.sla_ack_min ? new Date(new Date(a.dispatched_at).getTime() + a.sla_ack_min * 60000) : null;
      const others = i.assignments.filter((x) => x.opd !== a.opd);
      return el("article", { class: `case st-${a.status}${i.escalated ? " escalated" : ""}`, "data-id": i.id, "data-opd": a.opd, "data-status": a.status },
        el("header", {}, el("strong", {}, word("category", i.category)), el("span", { class: "badge" }, word("assignment", a.status))),
        el("div", { class: "meta" }, el("a", { href: `/cases/${encodeURIComponent(i.id)}`, class: "case-link" }, i.case_no || i.id.slice(-6)), ` · ${place(i)}`),
        i.description ? el("p", { class: "desc" }, i.description) : "",
        el("div", { class: "meta" }, `Dikirim ${fmtTime(a.dispatched_at)}` + (due ? ` · batas tanggap ${fmtTime(due.toISOString())}` : "")),
        a.responder ? el("div", { class: "responder" }, "Ditangani: " + responderText(a)) : "",
        a.status === "declined" ? el("div", { class: "flag" }, declineText(a)) : "",
        others.length ? el("div", { class: "others" }, "OPD lain: ", ...others.map(partLine)) : "",
        ...(me.role === "opd" ? stepControls(i, a) : []));
    })));
  const stamp = document.getElementById("refreshed");
  if (stamp) stamp.textContent = "· " + new Date().toLocaleTimeString("id-ID", { hour12: false });
}
