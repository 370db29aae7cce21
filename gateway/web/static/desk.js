// Siaga 112 desk helpers: a caller's history next to the report form, and
// the supervisors' flagged-number list. Loaded before app.js, which owns
// el(), api(), fmtTime() and boot(); these functions run only after boot.
"use strict";


// show the number's last 30 days (calls by type, open cases, flag) while the operator types it
function watchCaller(input) {
  const box = document.getElementById("caller-history");
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => showCallerHistory(input.value.trim(), box), 300);
  });
}

async function showCallerHistory(number, box) {
  if (!/^\+?[0-9*#]{3,20}$/.test(number)) { box.hidden = true; return; }
  let h;
  try { h = await api(`/api/callers/${encodeURIComponent(number)}`); } catch (e) { box.hidden = true; return; }
  const types = Object.entries(h.by_type).map(([t, n]) => `${n} ${word("call_type", t).toLowerCase()}`).join(", ");
  const parts = [];
  if (h.flagged) {
    const until = h.flag_until ? `sampai / until ${fmtTime(h.flag_until)}` : "permanen / permanent";
    parts.push(el("span", { class: "flag-badge" }, "NOMOR DITANDAI / FLAGGED"),
      `pelanggaran ke-${h.flag_offence}, ${until}. Tetap layani panggilan ini. / Still serve this call. `);
  }
  parts.push(el("strong", {}, `${h.calls} panggilan dalam ${h.days} hari / calls in ${h.days} days`),
    types ? ` (${types})` : "", `; ${h.open_cases.length} kasus terbuka / open cases`,
    ...h.open_cases.slice(0, 3).map((c) => ` · ${c.case_no}`));
  box.replaceChildren(...parts);
  box.className = "history" + (h.flagged ? " flagged" : "");
  box.dataset.flagged = h.flagged ? "yes" : "no";
  box.hidden = false;
}

async function refreshFlags() {
  const rows = await api("/api/flags");
  const canLift = me && (me.role === "supervisor" || me.role === "admin");
  fillRows(document.querySelector("#flags tbody"), rows.map((f) => el("tr", { "data-number": f.number },
    el("td", {}, f.number),
    el("td", {}, f.offence === 1 ? "pertama (3 hari) / first" : `ke-${f.offence}, permanen / permanent`),
    el("td", { class: "num" }, f.calls), el("td", {}, fmtTime(f.flagged_at)),
    el("td", {}, f.expires_at ? fmtTime(f.expires_at) : "sampai dicabut / until lifted"),
    el("td", {}, canLift ? el("button", { class: "small", onclick: () => liftFlag(f.number) }, "Cabut / Lift") : "–"))));
}

async function liftFlag(number) {
  const reason = prompt(`Alasan mencabut tanda ${number} (wajib) / Reason to lift (required):`);
  if (reason === null) return;
  try { await api(`/api/flags/${encodeURIComponent(number)}/lift`, { method: "POST", body: JSON.stringify({ reason }) }); await refreshFlags(); }
  catch (e) { showError(e.message); }
}

// each panel's call now (GET /api/desks, every second): a ringing caller's
// history and flag appear before the operator answers
const PHASE_WORDS = { ringing: "BERDERING / RINGING", active: "Tersambung / On the line" };
let deskKey = "";

function watchDesks() {
  const tick = async () => {
    try { await refreshDesks(); } catch (e) { /* the case list shows API errors */ }
  };
  tick();
  setInterval(tick, 1000);
}

async function refreshDesks() {
  const live = (await api("/api/desks")).filter((d) => d.phase !== "idle");
  const key = live.map((d) => `${d.device}:${d.phase}:${d.number}:${d.flagged}`).join("|");
  if (key === deskKey) return;
  deskKey = key;
  document.getElementById("desks-card").hidden = !live.length;
  document.getElementById("desks").replaceChildren(...live.map((d) => {
    const box = el("div", { class: "history", "data-device": d.device });
    const row = el("div", { class: `desk ${d.phase}${d.flagged ? " flagged" : ""}`, "data-device": d.device, "data-phase": d.phase },
      el("strong", {}, `${PHASE_WORDS[d.phase] || d.phase}: ${d.number || "nomor tersembunyi / withheld"}`),
      ` · ${d.label || d.device}${d.operator ? " · " + d.operator : ""}`, box);
    if (d.number) showCallerHistory(d.number, box);
    return row;
  }));
}
