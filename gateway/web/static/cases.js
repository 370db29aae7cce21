// Siaga 112 cases: the operator console and the OPD portal. What may be done
// next comes from the API (allowed_actions); this file only turns codes into
// words and buttons (textContent only). Uses el/api/poll/... from app.js.
"use strict";

const CASE_STATUS = { received: "Masuk", triaged: "Diverifikasi", dispatched: "Dikirim ke OPD", acknowledged: "Ditanggapi OPD",
  on_scene: "Petugas di lokasi", resolved: "Selesai ditangani", closed: "Ditutup", rejected: "Ditolak" };
const PART_STATUS = { dispatched: "Menunggu tanggapan", acknowledged: "Ditanggapi", on_scene: "Di lokasi", resolved: "Selesai",
  declined: "Ditolak OPD", withdrawn: "Dialihkan" };
const DECLINE = { not_ours: "Bukan wewenang kami", no_capacity: "Tidak ada kapasitas", duplicate: "Laporan ganda", other: "Alasan lain" };
const RESPONDER_KIND = { team: "Regu/tim", vehicle: "Kendaraan", person: "Petugas" };
const SOURCE = { field_button: "Tombol kotak", panel_call: "Telepon 112", operator: "Operator" };
// an SMS from a citizen's phone (no device) is an "SMS report"; a unit's SMS fallback names the box;
// a field box's dial-out is linked to its case by call_id (☎, the call id in the tooltip)
const source = (i) => (i.source === "sms" ? (i.device_id ? "SMS kotak / unit SMS" : "Laporan SMS / SMS report")
  : SOURCE[i.source] || i.source) + (i.call_id ? " \u260E" : "");
const CASE_ACTION = { triaged: "Verifikasi", "rejected:prank": "Iseng", "rejected:test": "Uji coba", dispatched: "Kirim ke OPD",
  "rejected:duplicate": "Duplikat", closed: "Tutup kasus" };
const STEP = { acknowledged: "Terima", on_scene: "Tiba di lokasi", resolved: "Selesai", declined: "Tolak", responder: "Ganti petugas" };
let opdNames = {};

const opdName = (id) => opdNames[id] || id;
const declineText = (a) => `Ditolak oleh ${opdName(a.opd)}: ${DECLINE[a.decline_reason] || a.decline_reason}` + (a.decline_note ? ` (${a.decline_note})` : "");
const attentionText = (i) => { const d = i.assignments.filter((a) => a.status === "declined" && !a.rerouted_at).slice(-1)[0]; return d ? declineText(d) : i.attention; };
const responderText = (a) => (a.responder ? `${RESPONDER_KIND[a.responder_kind] || "Petugas"}: ${a.responder}` : "");

// a poll must not wipe what a person is typing or choosing
function busy(container) {
  const f = document.activeElement;
  return Boolean(container && ((f && f !== document.body && container.contains(f) && ["INPUT", "SELECT", "TEXTAREA"].includes(f.tagName))
    || container.querySelector("details[open]")));
}

async function loadOpds() {
  if (Object.keys(opdNames).length) return;
  for (const o of await api("/api/opds")) opdNames[o.id] = o.name;
}

function partLine(a) {
  const bits = [`${opdName(a.opd)} — ${PART_STATUS[a.status] || a.status}`];
  if (a.responder) bits.push(responderText(a));
  if (a.status === "declined") bits.push(DECLINE[a.decline_reason] || a.decline_reason);
  if (a.decline_wrong) bits.push("penolakan dinilai keliru");
  return el("div", { class: `part part-${a.status}`, "data-opd": a.opd, "data-status": a.status }, bits.join(" · "));
}

// ---- staff console -------------------------------------------------------------
async function post(path, body) {
  return api(path, { method: "POST", body: JSON.stringify(body) });
}

function opdSelect(exclude) {
  return el("select", { class: "small" }, ...Object.entries(opdNames).filter(([id]) => !exclude.includes(id))
    .map(([id, name]) => el("option", { value: id }, name)));
}

function consoleActions(inc) {
  const act = (fn) => async () => { try { await fn(); await refreshConsole(true); } catch (e) { showError(e.message); } };
  const out = inc.allowed_actions.filter((s) => s !== "assign").map((step) => el("button", {
    class: "small", "data-step": step,
    onclick: act(() => { const [to, reason] = step.split(":"); return post(`/api/incidents/${inc.id}/transitions`, reason ? { to, reason } : { to }); }),
  }, CASE_ACTION[step] || step));
  const taken = inc.assignments.filter((a) => !["declined", "withdrawn"].includes(a.status)).map((a) => a.opd);
  const movable = inc.assignments.filter((x) => x.allowed_actions.includes("reroute"));
  if (!inc.allowed_actions.includes("assign") && !movable.length) return out;
  // one OPD picker per case: "add" gives it the case, "move from X" re-routes X's part to it
  const pick = opdSelect(taken);
  const group = el("div", { class: "assign" }, pick);
  if (inc.allowed_actions.includes("assign")) {
    group.append(el("button", { class: "small", "data-step": "assign",
      onclick: act(() => post(`/api/incidents/${inc.id}/assignments`, { opds: [pick.value] })) }, "Tambah OPD"));
  }
  for (const a of movable) {
    group.append(el("button", { class: "small secondary", "data-step": `reroute:${a.opd}`,
      onclick: act(() => post(`/api/incidents/${inc.id}/assignments`, { opds: [pick.value], withdraw: a.opd })) },
    `Alihkan dari ${opdName(a.opd)}`));
  }
  out.push(group);
  return out;
}

async function refreshConsole(force = false) {
  await loadOpds();
  const status = document.getElementById("status-filter").value;
  const q = new URLSearchParams({ limit: "50" });
  if (status) q.set("status", status);
  const pageData = await api("/api/incidents?" + q);
  if (busy(document.querySelector("#incidents")) && !force) return;
  fillRows(document.querySelector("#incidents tbody"), pageData.items.map((i) => el("tr", {
    "data-id": i.id, "data-status": i.status, class: `st-${i.status}${i.escalated ? " escalated" : ""}${i.attention ? " attention" : ""}` },
  el("td", {}, i.case_no || i.id.slice(-6)),
  el("td", {}, el("span", { class: "badge" }, CASE_STATUS[i.status] || i.status),
    i.attention ? el("div", { class: "flag" }, attentionText(i)) : ""),
  el("td", {}, i.category_label || i.category), el("td", { class: "source", title: i.call_id ? `panggilan / call ${i.call_id}` : "" }, source(i)),
  el("td", {}, place(i)),
  el("td", {}, ...(i.assignments.length ? i.assignments.map(partLine) : ["–"])),
  el("td", {}, fmtTime(i.received_at)),
  el("td", {}, ...consoleActions(i)))));
}

async function initConsole() {
  const cats = ["medical", "fire", "traffic_accident", "natural_disaster", "fallen_tree", "flood", "street_light",
    "crime", "drugs", "domestic_violence", "security_disturbance", "terrorism", "other", "prank", "test"];
  document.getElementById("category-select").replaceChildren(...cats.map((c) => el("option", { value: c }, c)));
  document.getElementById("status-filter").addEventListener("change", refreshConsole);
  document.getElementById("new-incident").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(ev.target));
    const body = { category: f.category };
    if (f.caller) body.caller = f.caller;
    if (f.description) body.description = f.description;
    if (f.area) body.location = { area: f.area };
    try { await api("/api/incidents", { method: "POST", body: JSON.stringify(body) }); ev.target.reset(); await refreshConsole(); }
    catch (e) { showError(e.message); }
  });
  poll(refreshConsole);
}

// ---- OPD portal: one card per case, for a duty officer's phone ------------------
function stepControls(inc, a) {
  const steps = a.allowed_actions.filter((s) => s !== "reroute");
  const send = async (body) => {
    try { await post(`/api/incidents/${encodeURIComponent(inc.id)}/steps`, { opd: a.opd, ...body }); await refreshOpd(true); }
    catch (e) { showError(e.message); }
  };
  const out = [];
  if (steps.includes("acknowledged") || steps.includes("responder")) {
    const who = el("input", { name: "responder", placeholder: "Regu / kendaraan / nama petugas", maxlength: "200", value: a.responder || "" });
    const kind = el("select", { name: "responder_kind" }, ...Object.entries(RESPONDER_KIND).map(([k, v]) => el("option", { value: k }, v)));
    if (a.responder_kind) kind.value = a.responder_kind;
    const step = steps.includes("acknowledged") ? "acknowledged" : "responder";
    out.push(el("div", { class: "row" }, who, kind, el("button", { "data-step": step,
      onclick: () => send({ step, responder: who.value || null, responder_kind: kind.value }) }, STEP[step])));
  }
  const plain = steps.filter((s) => ["on_scene", "resolved"].includes(s));
  if (plain.length) out.push(el("div", { class: "row" }, ...plain.map((s) => el("button", { "data-step": s, onclick: () => send({ step: s }) }, STEP[s]))));
  if (steps.includes("declined")) {
    const why = el("select", { name: "reason" }, ...Object.entries(DECLINE).map(([k, v]) => el("option", { value: k }, v)));
    const note = el("input", { name: "note", placeholder: "Keterangan (boleh kosong)", maxlength: "2000" });
    out.push(el("details", { class: "decline" }, el("summary", {}, "Bukan untuk kami? Tolak kasus"),
      el("div", { class: "row" }, why, note, el("button", { class: "secondary", "data-step": "declined",
        onclick: () => send({ step: "declined", reason: why.value, note: note.value || null }) }, STEP.declined))));
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
        el("header", {}, el("strong", {}, i.category_label || i.category), el("span", { class: "badge" }, PART_STATUS[a.status] || a.status)),
        el("div", { class: "meta" }, `${i.case_no || i.id.slice(-6)} · ${place(i)}`),
        i.description ? el("p", { class: "desc" }, i.description) : "",
        el("div", { class: "meta" }, `Dikirim ${fmtTime(a.dispatched_at)}` + (due ? ` · batas tanggap ${fmtTime(due.toISOString())}` : "")),
        a.responder ? el("div", { class: "responder" }, "Ditangani: " + responderText(a)) : "",
        a.status === "declined" ? el("div", { class: "flag" }, declineText(a)) : "",
        others.length ? el("div", { class: "others" }, "OPD lain: ", ...others.map(partLine)) : "",
        ...stepControls(i, a));
    })));
  const stamp = document.getElementById("refreshed");
  if (stamp) stamp.textContent = "· " + new Date().toLocaleTimeString("id-ID", { hour12: false });
}
