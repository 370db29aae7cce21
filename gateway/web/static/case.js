// Siaga 112 case page: one case for an operator, supervisor or its OPD: what
// happened (timeline with every dispatch attempt), who has it (assignments),
// the call and the caller's past, linked reports, notes, and the next steps
// from the API's allowed_actions. Uses app.js and cases.js helpers; one
// column on a phone.
"use strict";

const caseRef = () => decodeURIComponent(location.pathname.split("/").pop());
let current = null; // the case as last read

function section(id, title, ...children) {
  return el("section", { class: "card", id }, el("h2", {}, title), ...children);
}

function dl(pairs) {
  return el("dl", { class: "facts" }, ...pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

const caseLink = (c) => el("a", { href: `/cases/${encodeURIComponent(c.id)}`, "data-case": c.id }, c.case_no || c.id.slice(-6));

// where the report came from: the box and its place, or the panel and the caller's number
function sourceText(i) {
  const bits = [source(i)];
  if (i.device_id) bits.push(i.city ? `${i.city}/${i.device_id}` : i.device_id);
  if (i.caller) bits.push(i.caller);
  return bits.join(" · ");
}

function summary(i) {
  const maps = i.lat !== null && i.lon !== null
    ? el("a", { href: `geo:${i.lat},${i.lon}` }, `${i.lat.toFixed(5)}, ${i.lon.toFixed(5)}`) : null;
  return section("summary", "Ringkasan / Summary", dl([
    ["Status", el("span", { class: "badge" }, word("status", i.status))],
    ["Kota / City", i.city ? `${i.city_name || i.city} (${i.city})` : null],
    ["Kategori / Category", word("category", i.category)],
    ["Jenis panggilan / Call type", word("call_type", i.call_type)],
    ["Sumber / Source", sourceText(i)],
    ["Lokasi / Place", place(i)],
    ["Koordinat / Coordinates", maps],
    ["Keterangan / Description", i.description ? el("span", { class: "desc" }, i.description) : null],
    ["Diterima / Received", fmtTime(i.received_at)],
    ["SLA", el("span", { class: "sla", "data-due": slaDue(i) }, slaText(slaDue(i)))],
    ["Ditolak karena / Rejected as", i.reject_reason ? word("reject", i.reject_reason) : null],
  ]), i.attention ? el("p", { class: "flag" }, attentionText(i)) : "");
}

// ---- what may be done next (allowed_actions only) ---------------------------------
// a step, then the page again; null from fn: nothing was sent (a hint is shown, or the confirm was cancelled)
async function caseAct(fn) {
  try { if ((await fn()) !== null) await refreshCase(true); } catch (e) { showError(e.message); }
}

function dispatchForm(i) {
  const chosen = new Set(i.suggested_opds);
  const boxes = Object.keys(opdNames).map((id) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "opd", value: id, checked: chosen.has(id) }), opdName(id)));
  const send = el("button", { "data-step": "dispatched", onclick: () => caseAct(() => {
    const opds = boxes.map((b) => b.querySelector("input")).filter((x) => x.checked).map((x) => x.value);
    return caseStep(i, "dispatched", opds);
  }) }, word("action", "dispatched"));
  return el("fieldset", { class: "opd-choice" },
    el("legend", {}, "OPD tujuan / OPDs to send to", i.suggested_opds.length ? el("small", {}, " (dicentang: sesuai aturan / ticked: the rules' choice)") : ""),
    el("div", { class: "checks" }, ...boxes), send);
}

function handoffForm(i) {
  const people = i.handoff_to.flatMap((o) => (opdInfo[o] ? opdInfo[o].contacts : []).filter((c) => c.phone)
    .map((c) => el("li", {}, `${opdName(o)} — ${c.name}${c.role ? " (" + c.role + ")" : ""}: `, el("a", { href: `tel:${c.phone}`, class: "phone" }, c.phone))));
  const who = el("input", { name: "handoff-note", maxlength: "2000", placeholder: "Diterima oleh (nama, jabatan) / taken by" });
  return el("div", { class: "handoff" },
    el("strong", {}, "Serahkan lewat telepon / Hand off by phone"),
    el("p", {}, i.handoff_to.length ? `Tidak ada OPD di sistem untuk kasus ini; telepon ${i.handoff_to.map(opdName).join(", ")}:`
      : "Tidak ada OPD di sistem untuk kasus ini; tangani lewat telepon. / No OPD in the system takes this case."),
    people.length ? el("ul", {}, ...people) : "",
    el("div", { class: "row" }, who, el("button", { "data-step": "handoff", onclick: () => caseAct(() => {
      if (!who.value.trim()) { fieldHint(who, "Tulis siapa yang menerima. / Say who took it."); return null; }
      return post(`/api/incidents/${i.id}/handoff`, { to: i.handoff_to[0] || null, note: who.value.trim() });
    }) }, word("action", "handoff"))));
}

function mergeForm(i) {
  const into = el("input", { name: "merge-into", maxlength: "32", placeholder: "No. kasus utama / main case no." });
  return el("div", { class: "row merge" }, into, el("button", { class: "secondary", "data-step": "merge", onclick: () => caseAct(() => {
    if (!into.value.trim()) { fieldHint(into, "Isi nomor kasus utama. / Enter the main case number."); return null; }
    return post(`/api/incidents/${i.id}/merge`, { into: into.value.trim() });
  }) }, word("action", "merge")));
}

function fieldHint(input, msg) {
  for (const old of input.parentNode.querySelectorAll(".field-error")) old.remove();
  input.setAttribute("aria-invalid", "true");
  input.after(el("p", { class: "field-error", role: "alert" }, msg));
}

function actions(i) {
  const staff = me.role !== "opd";
  const out = [];
  const steps = i.allowed_actions;
  if (steps.includes("handoff")) out.push(handoffForm(i));
  if (steps.includes("dispatched")) out.push(dispatchForm(i));
  const plain = steps.filter((s) => !["dispatched", "assign", "merge", "handoff"].includes(s));
  const button = (s) => el("button", { class: /^(type|rejected):/.test(s) ? "secondary" : "", "data-step": s,
    onclick: () => caseAct(() => caseStep(i, s)) }, word("action", s));
  const real = plain.filter((s) => !/^(type|rejected):/.test(s));
  const junk = plain.filter((s) => /^(type|rejected):/.test(s));
  if (real.length) out.push(el("div", { class: "row" }, ...real.map(button)));
  if (junk.length) {
    out.push(el("div", { class: "row junk" }, el("span", { class: "hint" }, "Bukan darurat? Tandai / Not an emergency? Mark as:"),
      ...junk.map(button)));
  }
  if (steps.includes("merge")) out.push(mergeForm(i));
  if (staff && (steps.includes("assign") || i.assignments.some((a) => a.allowed_actions.includes("reroute")))) {
    out.push(el("div", { class: "row" }, el("span", { class: "hint" }, "OPD lain / another OPD:"),
      ...consoleActions({ ...i, allowed_actions: steps.filter((s) => s === "assign") })));
  }
  for (const a of i.assignments.filter((x) => me.role === "opd" && x.opd === me.opd)) out.push(...stepControls(i, a));
  return out.length ? section("actions", "Tindakan / Actions", ...out) : "";
}

// ---- who has it ---------------------------------------------------------------------
function assignmentCard(i, a) {
  const attempts = i.deliveries.filter((d) => d.target === a.opd);
  return el("article", { class: `part-card st-${a.status}`, "data-opd": a.opd, "data-status": a.status },
    el("header", {}, el("strong", {}, opdName(a.opd)), el("span", { class: "badge" }, word("assignment", a.status))),
    dl([["Dikirim / Sent", fmtTime(a.dispatched_at)], ["Ditanggapi / Acknowledged", a.acknowledged_at && fmtTime(a.acknowledged_at)],
      ["Tiba / On scene", a.on_scene_at && fmtTime(a.on_scene_at)], ["Selesai / Resolved", a.resolved_at && fmtTime(a.resolved_at)],
      ["Petugas / Responder", responderText(a)],
      ["Ditolak / Declined", a.status === "declined" ? `${word("decline", a.decline_reason)}${a.decline_note ? " — " + a.decline_note : ""}` : null],
      ["Pengiriman / Delivery", attempts.length ? attempts.map((d) => `${word("channel", d.channel.split(":")[0])}: ${word("delivery", d.status)} (${d.attempts}×)`).join("; ") : null]]));
}

// ---- the call and the caller ----------------------------------------------------------
function callSection(c) {
  if (!c) return "";
  return section("call", "Rekaman panggilan / Call record", dl([
    ["Nomor / Number", c.number || "nomor tersembunyi / withheld"],
    ["Berdering / Rang", fmtTime(c.ring_at)],
    ["Dijawab / Answered", c.answered_at ? `${fmtTime(c.answered_at)} (${fmtDur(c.answer_s)} setelah berdering / after ringing)` : "tidak dijawab / not answered"],
    ["Lama bicara / Duration", fmtDur(c.duration_s)],
    ["Dijawab oleh / Answered by", c.operator],
    ["Meja / Desk", c.device_id],
    ["Berakhir / Ended", word("call_end", c.end_reason)],
    ["Jenis / Type", word("call_type", c.call_type)],
  ]));
}

function callerSection(number) {
  if (!number || me.role === "opd") return "";
  const box = el("div", { class: "history", id: "case-caller-history" }, "…");
  showCallerHistory(number, box);
  return section("caller", `Riwayat penelepon / Caller history: ${number}`, box);
}

function linkedSection(i) {
  if (!i.main_case && !i.duplicates.length) return "";
  const row = (c) => el("li", { "data-case": c.id }, caseLink(c), ` · ${word("status", c.status)} · ${word("source", c.source)}`
    + `${c.caller ? " · " + c.caller : ""} · ${fmtTime(c.received_at)}`);
  return section("linked", "Kasus terkait / Linked cases",
    i.main_case ? el("p", {}, "Duplikat dari kasus utama / Duplicate of the main case: ", caseLink(i.main_case)) : "",
    i.duplicates.length ? el("div", {}, el("p", {}, `Laporan lain yang digabung ke sini / Other reports merged here (${i.duplicates.length}):`),
      el("ul", {}, ...i.duplicates.map(row))) : "");
}

// ---- what happened: audit rows and dispatch attempts in time order --------------------
function timelineRows(i) {
  const rows = i.timeline.map((t) => ({ at: t.at, kind: t.event, who: `${t.actor} · ${word("via", t.via)}`,
    what: t.event === "status" ? `${t.from_status ? word("status", t.from_status) + " → " : ""}${word("status", t.to_status)}`
      : word("event", t.event) + (t.opd ? `: ${opdName(t.opd)}` : ""), note: t.note }));
  for (const d of i.deliveries) {
    for (const a of d.attempt_log) {
      rows.push({ at: a.at, kind: a.ok ? "attempt" : "attempt-failed", who: a.instance || "",
        what: `${word("channel", d.channel.split(":")[0])} → ${opdName(d.target)}: ${a.ok ? "berhasil / ok" : "gagal / failed"}`
          + (a.http_status ? ` (HTTP ${a.http_status})` : ""), note: a.error });
    }
  }
  return rows.sort((a, b) => new Date(b.at) - new Date(a.at)); // newest first: what just happened on top
}

function timelineSection(i) {
  const text = el("textarea", { name: "note", rows: "2", maxlength: "2000", placeholder: "Catatan untuk kasus ini / a note on this case" });
  const form = el("form", { id: "note-form", class: "row" }, text, el("button", { type: "submit" }, word("action", "note")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    if (!text.value.trim()) return fieldError(form, "note", "Catatan masih kosong. / The note is empty.");
    return caseAct(() => post(`/api/incidents/${i.id}/notes`, { text: text.value }));
  });
  return section("timeline", "Linimasa / Timeline", form, el("ol", { class: "timeline" }, ...timelineRows(i).map((r) =>
    el("li", { class: `ev ev-${r.kind}`, "data-event": r.kind },
      el("time", {}, fmtTime(r.at)), el("strong", {}, r.what), r.who ? el("small", {}, ` ${r.who}`) : "",
      r.note ? el("div", { class: "note" }, r.note) : ""))));
}

async function refreshCase(force = false) {
  await loadOpds();
  const i = await api(`/api/incidents/${encodeURIComponent(caseRef())}`);
  const root = document.getElementById("case");
  if (!force && busy(root)) return;
  current = i;
  document.title = `${i.case_no || i.id} — Siaga 112`;
  document.getElementById("case-title").textContent = `${i.case_no || i.id}: ${word("category", i.category)}`;
  root.dataset.status = i.status;
  root.replaceChildren(actions(i), summary(i),
    section("parts", "OPD yang menangani / OPDs on the case", i.assignments.length
      ? el("div", { class: "parts" }, ...i.assignments.map((a) => assignmentCard(i, a))) : el("p", { class: "hint" }, "Belum dikirim ke OPD. / Not sent to an OPD yet.")),
    callSection(i.call), callerSection(i.caller || (i.call && i.call.number)), linkedSection(i), timelineSection(i));
  showError("");
}

// staff: re-read when the gateway pushes a change; OPD users: poll (no event stream for them)
function initCase() {
  afterAction = () => refreshCase(true);
  afterStep = () => refreshCase(true);
  const run = paced(() => refreshCase().catch((e) => { if (e.message !== "401") showError(e.message); }), READ_GAP_MS);
  run();
  if (me.role !== "opd" && window.EventSource) {
    const es = new EventSource("/api/events");
    es.addEventListener("case", (ev) => {
      const d = JSON.parse(ev.data || "{}");
      if (!current || d.id === current.id || d.case_no === current.case_no || !d.id) run();
    });
    es.addEventListener("resync", run);
  } else {
    setInterval(run, POLL_MS);
  }
  setInterval(() => {
    for (const s of document.querySelectorAll(".sla[data-due]")) s.textContent = slaText(Number(s.dataset.due));
  }, 1000);
}
