// The mayor's dashboard: one GET /api/dashboard per poll (a snapshot the
// server shares among viewers), drawn with Chart.js (vendored, no CDN) and
// tables (textContent only). Uses el/api/fillRows/showError from app.js.
"use strict";

const COLORS = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#8d6e63", "#546e7a", "#ad1457", "#9e9d24"];
const LEVEL_COLOR = { green: "#2e7d32", amber: "#ef6c00", red: "#c62828", none: "#b0bec5" };
const STEP_WORD = { day: "hari", week: "pekan", month: "bulan" };
const charts = {};
let board = null;

// numbers in words, as gateway/report_text.py writes them in the PDF
const dec1 = (x) => x.toFixed(1).replace(".", ",");
const durId = (s) => (s === null || s === undefined ? "–" : s < 90 ? `${Math.round(s)} detik` : s < 5400 ? `${dec1(s / 60)} menit` : `${dec1(s / 3600)} jam`);
const pctId = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)} %`);
const minutes = (s) => (s === null || s === undefined ? null : Math.round((s / 60) * 100) / 100);
const level = (x, t) => (x === null || x === undefined ? "none" : x >= t.sla_good ? "green" : x >= t.sla_warn ? "amber" : "red");

function params() {
  const f = new FormData(document.getElementById("period-form"));
  const q = new URLSearchParams({ period: f.get("period") });
  if (f.get("period") === "month" && f.get("month")) q.set("month", f.get("month"));
  if (f.get("period") === "custom") { q.set("start", f.get("start")); q.set("end", f.get("end")); }
  return q;
}

// an arrow and the change; for times lower is better, for counts it is only a change
function changeCell(d, kind) {
  if (d === null || d === undefined) return el("td", { class: "num change" }, "–");
  const same = kind === "dur" ? Math.abs(d) < 0.5 : d === 0;
  if (same) return el("td", { class: "num change same" }, "= tetap");
  const up = d > 0;
  const text = kind === "dur" ? `${up ? "▲ lebih lambat" : "▼ lebih cepat"} ${durId(Math.abs(d))}` : `${up ? "▲ +" : "▼ −"}${Math.abs(d)}`;
  const cls = kind === "dur" ? (up ? "worse" : "better") : "";
  return el("td", { class: `num change ${cls}`, "data-change": d }, text);
}

function draw(id, type, data, options = {}) {
  const c = charts[id];
  if (c) { c.data = data; c.update("none"); return c; }
  charts[id] = new Chart(document.getElementById(id), {
    type, data, options: { animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" } }, ...options },
  });
  return charts[id];
}

function ranked(b) {
  return [...b.kpis.opds].sort((a, c) => (a.ack_median_s === null) - (c.ack_median_s === null) || (a.ack_median_s ?? 0) - (c.ack_median_s ?? 0));
}

function renderTables(b) {
  const k = b.kpis, t = b.targets;
  document.getElementById("period-label").textContent = b.period.label;
  document.getElementById("prev-label").textContent = b.period.prev_label;
  document.getElementById("k-incidents").textContent = k.incidents;
  document.getElementById("k-backlog").textContent = k.open_backlog;
  document.getElementById("k-prank").textContent = pctId(k.prank_test_share);
  document.getElementById("k-answer").textContent = pctId(k.calls.within_15s);
  const change = Object.fromEntries(b.changes.map((c) => [c.opd, c]));
  fillRows(document.querySelector("#opd-kpis tbody"), ranked(b).map((o) => el("tr", { "data-opd": o.opd },
    el("td", { title: o.name }, o.name), el("td", { class: "num" }, o.count), el("td", { class: "num" }, o.open),
    el("td", { class: "num" }, durId(o.ack_median_s)), el("td", { class: "num" }, durId(o.ack_p90_s)),
    el("td", { class: "num" }, durId(o.resolve_median_s)), el("td", { class: "num" }, durId(o.resolve_p90_s)),
    el("td", { class: `num sla sla-${level(o.ack_sla_compliance, t)}` }, pctId(o.ack_sla_compliance)),
    el("td", { class: `num sla sla-${level(o.resolve_sla_compliance, t)}` }, pctId(o.resolve_sla_compliance)),
    el("td", { class: "num" }, o.escalations),
    changeCell(change[o.opd].ack_median_s, "dur"), changeCell(change[o.opd].count, "count"))));
  document.getElementById("sla-legend").textContent = `Warna SLA / SLA colours: hijau ≥ ${pctId(t.sla_good)}, kuning ≥ ${pctId(t.sla_warn)}, merah di bawahnya. ` +
    "▲/▼ dibandingkan periode sebelumnya / against the previous period.";
  document.querySelector("#decline-kpis tbody").replaceChildren(...b.declines.filter((o) => o.declines).map((o) => el("tr", { "data-opd": o.opd },
    el("td", {}, o.name), el("td", { class: "num" }, o.declines),
    el("td", {}, Object.entries(o.by_reason).map(([r, n]) => `${word("decline", r)}: ${n}`).join(", ")),
    el("td", { class: "num" + (o.wrong ? " fault" : "") }, o.wrong), el("td", { class: "num" }, durId(o.reroute_median_s)),
    el("td", { class: "num" }, durId(o.reroute_p90_s)), el("td", { class: "num" }, o.waiting))));
  const cats = Object.entries(k.by_category).sort((a, c) => c[1] - a[1]);
  document.querySelector("#by-category tbody").replaceChildren(...cats.map(([c, n]) =>
    el("tr", { "data-category": c }, el("td", {}, b.category_labels[c] || c), el("td", { class: "num" }, n))));
  const c = k.calls, a = b.charts.answers;
  const rows = [["Panggilan / Calls", c.calls], ["Dijawab / Answered", c.answered], ["Tak terjawab / Missed", a.missed],
    ["Penelepon menutup sebelum dijawab / Abandoned", a.abandoned],
    ["Waktu jawab median / Answer median", durId(c.answer_median_s)], ["Waktu jawab p90", durId(c.answer_p90_s)],
    ["≤15 detik (target 90 %)", pctId(c.within_15s)], ["≤20 detik (target 95 %)", pctId(c.within_20s)]];
  document.querySelector("#calls tbody").replaceChildren(...rows.map(([x, y]) => el("tr", {}, el("td", {}, x), el("td", { class: "num" }, y))));
  document.getElementById("answer-summary").textContent =
    `≤15 detik: ${pctId(c.within_15s)} (${c.meets_15s_target ? "memenuhi" : "belum memenuhi"} target 90 %) · ` +
    `≤20 detik: ${pctId(c.within_20s)} (${c.meets_20s_target ? "memenuhi" : "belum memenuhi"} target 95 %) · ` +
    `tak terjawab ${a.missed}, penelepon menutup ${a.abandoned}`;
  renderHeatmap(b);
}

function renderHeatmap(b) {
  const max = Math.max(1, ...b.charts.heatmap.flat());
  const head = el("tr", {}, el("th", {}, "Hari / jam"), ...Array.from({ length: 24 }, (_, h) => el("th", {}, String(h).padStart(2, "0"))));
  document.querySelector("#heatmap thead").replaceChildren(head);
  document.querySelector("#heatmap tbody").replaceChildren(...b.charts.heatmap.map((row, d) => el("tr", { "data-day": d },
    el("th", {}, b.charts.weekdays[d]),
    ...row.map((n, h) => { const td = el("td", { class: "num", "data-hour": h, title: `${b.charts.weekdays[d]} ${h}.00: ${n}` }, n || "");
      td.style.background = n ? `rgba(198, 40, 40, ${0.08 + 0.8 * (n / max)})` : ""; return td; }))));
}

function renderCharts(b) {
  const r = ranked(b), t = b.targets, ch = b.charts;
  const names = r.map((o) => o.name);
  const bars = (med, p90) => ({ labels: names, datasets: [
    { label: "median", data: r.map((o) => minutes(o[med])), backgroundColor: "#1565c0" },
    { label: "p90", data: r.map((o) => minutes(o[p90])), backgroundColor: "#90caf9" }] });
  const horizontal = { indexAxis: "y", scales: { x: { beginAtZero: true, title: { display: true, text: "menit" } } } };
  draw("chart-ack", "bar", bars("ack_median_s", "ack_p90_s"), horizontal);
  draw("chart-resolve", "bar", bars("resolve_median_s", "resolve_p90_s"), horizontal);
  const share = (x) => (x === null ? null : Math.round(x * 1000) / 10);
  draw("chart-sla", "bar", { labels: names, datasets: [
    { label: "SLA tanggap", data: r.map((o) => share(o.ack_sla_compliance)), backgroundColor: r.map((o) => LEVEL_COLOR[level(o.ack_sla_compliance, t)]) },
    { label: "SLA selesai", data: r.map((o) => share(o.resolve_sla_compliance)), backgroundColor: r.map((o) => LEVEL_COLOR[level(o.resolve_sla_compliance, t)] + "99") }] },
  { scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } } });
  const dec = Object.fromEntries(b.declines.map((d) => [d.opd, d.declines]));
  draw("chart-declines", "bar", { labels: names, datasets: [
    { label: "Ditolak OPD", data: r.map((o) => dec[o.opd] || 0), backgroundColor: "#c62828" },
    { label: "Dialihkan ke OPD lain", data: r.map((o) => ch.rerouted[o.opd] || 0), backgroundColor: "#ef6c00" }] },
  { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
  for (const s of document.querySelectorAll(".step")) s.textContent = STEP_WORD[ch.buckets.step];
  const line = (field, conv) => ({ labels: ch.buckets.labels, datasets: ch.trend.map((tr, i) => ({
    label: b.opd_names[tr.opd] || tr.opd, data: tr[field].map(conv), borderColor: COLORS[i % COLORS.length],
    backgroundColor: COLORS[i % COLORS.length], spanGaps: true, tension: 0.2 })) });
  draw("chart-trend", "line", line("ack_median_s", minutes), { scales: { y: { beginAtZero: true, title: { display: true, text: "menit" } } } });
  draw("chart-trend-count", "line", line("count", (n) => n), { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
  draw("chart-calltypes", "bar", { labels: ch.buckets.labels, datasets: Object.entries(ch.call_types).map(([type, counts], i) => ({
    label: b.call_type_labels[type] || type, data: counts, backgroundColor: COLORS[i % COLORS.length] })) },
  { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } });
  const bandColor = ch.answers.upper_s.map((u) => (u !== null && u <= 15 ? "#2e7d32" : u !== null && u <= 20 ? "#ef6c00" : "#c62828"));
  draw("chart-answers", "bar", { labels: [...ch.answers.labels, "Tak terjawab", "Penelepon menutup"], datasets: [
    { label: "Panggilan", data: [...ch.answers.counts, ch.answers.missed, ch.answers.abandoned], backgroundColor: [...bandColor, "#546e7a", "#90a4ae"] }] },
  { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } });
}

// a province gateway: the period's cases per city (GET /api/province)
async function renderCities(b) {
  const table = document.getElementById("city-counts");
  if (!table) return;
  const view = await api("/api/province?" + new URLSearchParams({ since: b.period.since, until: b.period.until }));
  fillRows(table.querySelector("tbody"), view.cities.map((c) => el("tr", { "data-city": c.slug },
    el("td", {}, c.name), el("td", { class: "num" }, String(c.incidents)), el("td", { class: "num" }, String(c.calls)),
    el("td", { class: "num" }, String(c.units)), el("td", {}, fmtTime(c.last_received_at)))));
}

async function refreshBoard() {
  const q = params();
  board = await api("/api/dashboard?" + q);
  for (const [id, path] of [["download-pdf", "/api/reports/rapor.pdf"], ["download-csv", "/api/reports/rapor.csv"]]) {
    const dq = new URLSearchParams(q);
    if (dq.get("period") !== "month" && dq.get("period") !== "custom") { dq.set("period", "month"); dq.delete("month"); }
    document.getElementById(id).href = `${path}?${dq}`;
  }
  renderTables(board);
  renderCharts(board);
  await renderCities(board);
  document.body.dataset.board = q.toString(); // the period drawn (tests wait for it)
}

function initDashboard() {
  const form = document.getElementById("period-form");
  const month = form.querySelector("[name=month]");
  const now = new Date();
  month.value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  const show = () => {
    const kind = form.querySelector("[name=period]").value;
    for (const l of form.querySelectorAll("[data-for]")) l.hidden = l.dataset.for !== kind;
  };
  form.querySelector("[name=period]").addEventListener("change", show);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    try { await refreshBoard(); showError(""); } catch (e) {
      if (e.message !== "401") fieldError(form, "period", "Periode tidak bisa ditampilkan / period refused: " + e.message);
    }
  });
  show();
  poll(refreshBoard);
}
