// The fleet page: one table from GET /api/devices; for admins and supervisors
// a unit panel (faults, configuration desired vs reported, commands); admins
// also act: self-test, ping, reboot, a configuration change. Every command's
// state is shown as it moves (queued -> sent -> delivered -> succeeded /
// failed / timed out / expired). Loaded before app.js, which calls initFleet.
"use strict";

const STATE_WORDS = {
  online: "daring / online", offline: "luring / offline", disabled: "nonaktif / disabled", revoked: "dicabut / revoked",
};
const CMD_WORDS = {
  queued: "antre / queued", sent: "terkirim / sent", delivered: "sampai di unit / delivered",
  succeeded: "berhasil / succeeded", failed: "gagal / failed", timed_out: "waktu habis / timed out",
  expired: "kedaluwarsa / expired",
};
const CONFIG_WORDS = {
  none: "tidak diatur pusat / not set centrally", in_sync: "selaras / in sync", pending: "menunggu unit / waiting for the unit",
  unpublished: "belum terbit / not published yet", refused: "ditolak unit / refused",
};
const CMD_NAMES = { self_test: "Uji mandiri / Self-test", ping: "Ping", reboot: "Mulai ulang / Reboot" };
// settings an admin may change here, with their words (docs/fleet.md has them all)
const KEY_WORDS = {
  button_categories: "Tombol / Buttons", firmware_version: "Versi perangkat lunak / Software version",
  firmware_url: "Sumber pembaruan / Update source",
};
const SETTING_WORDS = {
  volume: "Volume (0-100)", heartbeat_s: "Detak / Heartbeat (detik / s)", log_level: "Tingkat log / Log level",
  self_test_daily_at: "Uji mandiri harian / Daily self-test (HH:MM)", centre_number: "Nomor pusat / Centre number",
};

// fault episodes in words, the code after them (docs/fleet.md, Health watch)
const FAULT_WORDS = {
  offline: "luring / offline", door_tamper: "pintu terbuka / door open", mains_lost: "listrik PLN padam / mains lost",
  battery_low: "baterai lemah / battery low", storage_low: "penyimpanan hampir penuh / storage low",
  modem_silent: "modem diam / modem silent", modem_absent: "modem tidak ada / no modem",
  not_registered: "tidak terdaftar di jaringan / not on the GSM network", weak_signal: "sinyal lemah / weak signal",
  outbox_growing: "antrian menumpuk / outbox growing", self_test_failed: "uji mandiri gagal / self-test failed",
};
function faultText(code) {
  const [kind, part] = code.split(":");
  const words = FAULT_WORDS[code] || (kind === "stuck_button" ? `tombol macet / stuck button ${part}`
    : kind === "self_test" ? `uji mandiri / self-test: ${partName(part || "")}` : null);
  return words ? `${words} (${code})` : code;
}

let selected = null; // the unit whose panel is open
const canRead = () => ["admin", "supervisor"].includes(me.role);
const canAct = () => me.role === "admin";

function unitState(d) {
  return d.revoked ? "revoked" : !d.enabled ? "disabled" : d.online ? "online" : "offline";
}

async function refreshFleet() {
  const devices = await api("/api/devices");
  fillRows(document.querySelector("#devices tbody"), devices.map((d) => {
    const state = unitState(d);
    const cells = [
      el("td", {}, d.id), el("td", {}, d.profile), el("td", {}, [d.label, d.area].filter(Boolean).join(", ") || "–"),
      el("td", {}, el("span", { class: "badge" }, STATE_WORDS[state])), el("td", {}, fmtTime(d.last_seen)),
      el("td", { class: "num" }, d.signal_dbm != null ? `${d.signal_dbm} dBm` : "–"),
      el("td", { class: "num" }, d.outbox_depth ?? "–"),
      el("td", { class: d.faults.length ? "fault" : "" }, d.faults.map(faultText).join(", ") || "–"),
      selfTestCell(d.self_test),
      el("td", { class: `config cfg-${d.config}` }, CONFIG_WORDS[d.config] || d.config),
      el("td", { class: "firmware" }, softwareText(d.firmware, d.update)),
    ];
    if (canRead()) {
      cells.push(el("td", {}, el("button", { type: "button", class: "small", "data-action": "open",
        onclick: () => openUnit(d.id) }, "Kelola / Manage")));
    }
    return el("tr", { "data-id": d.id, class: `${d.online ? "online" : "offline"}${d.id === selected ? " selected" : ""}` },
      ...cells);
  }));
  if (selected) await refreshUnit();
  if (canRead()) await refreshRollout();
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

async function openUnit(id) {
  selected = id;
  const card = document.getElementById("unit-card");
  card.hidden = false;
  document.getElementById("unit-title").textContent = id;
  document.getElementById("unit-actions").hidden = !canAct();
  document.getElementById("config-form").hidden = !canAct();
  await refreshUnit();
  card.scrollIntoView({ block: "nearest" });
}

async function refreshUnit() {
  const id = selected;
  const [commands, config, faults] = await Promise.all([
    api(`/api/devices/${encodeURIComponent(id)}/commands?limit=10`),
    api(`/api/devices/${encodeURIComponent(id)}/config`),
    api(`/api/devices/${encodeURIComponent(id)}/faults?limit=20`),
  ]);
  if (id !== selected) return;
  document.querySelector("#unit-commands tbody").replaceChildren(...commands.map((c) =>
    el("tr", { "data-id": c.id, "data-name": c.name, class: `cmd-${c.state}` },
      el("td", {}, CMD_NAMES[c.name] || c.name), el("td", { class: "state" }, el("span", { class: "badge" }, CMD_WORDS[c.state] || c.state)),
      el("td", {}, fmtTime(c.created_at)), el("td", { class: "result" }, resultText(c)))));
  const drift = config.drift;
  document.getElementById("config-state").textContent = `${CONFIG_WORDS[drift.state] || drift.state}` +
    (drift.desired_version ? ` · versi diinginkan / desired v${drift.desired_version}` : "") +
    (drift.reported_version != null ? `, dilaporkan / reported v${drift.reported_version}` : "") +
    (drift.error ? ` – ${drift.error}` : "");
  document.querySelector("#unit-config tbody").replaceChildren(...config.diff.map((line) =>
    el("tr", { "data-key": line.key, class: line.desired === null ? "unmanaged" : line.same ? "same" : "differs" },
      el("td", {}, SETTING_WORDS[line.key] || KEY_WORDS[line.key] || line.key), el("td", {}, show(line.desired)),
      el("td", {}, show(line.reported)),
      el("td", {}, line.desired === null ? "milik unit / the unit's own" : line.same ? "sama / same" : "beda / differs"))));
  document.querySelector("#unit-faults tbody").replaceChildren(...faults.map((f) =>
    el("tr", { class: f.closed_at ? "closed" : "open" },
      el("td", { class: f.closed_at ? "" : "fault", "data-fault": f.fault }, faultText(f.fault)), el("td", {}, f.detail || "–"),
      el("td", {}, fmtTime(f.opened_at)), el("td", {}, f.closed_at ? fmtTime(f.closed_at) : "masih terbuka / still open"))));
}

const show = (v) => (v === null || v === undefined ? "–"
  : typeof v === "object" ? Object.entries(v).map(([k, x]) => `${k} → ${x}`).join(", ") : String(v));

// what a finished command says, in words
function resultText(c) {
  if (c.error) return c.error;
  if (!c.result) return "–";
  if (c.name === "self_test") {
    if (Array.isArray(c.result.failed)) { // revision 3: the unit names its failed parts
      return c.result.ok && !c.result.failed.length ? "lulus / passed"
        : `tidak lulus / failed: ${c.result.failed.map(partName).join(", ") || "ok=false"}`;
    }
    const failed = falseChecks(c.result);
    return c.result.ok === false || failed.length ? `tidak lulus / failed: ${failed.join(", ") || "ok=false"}` : "lulus / passed";
  }
  return Object.entries(c.result).map(([k, v]) => `${k}: ${show(v)}`).join(", ") || "ok";
}

function falseChecks(obj, prefix = "") {
  let out = [];
  for (const [k, v] of Object.entries(obj)) {
    if (k === "ok") continue;
    const name = prefix ? `${prefix}.${k}` : k;
    if (v === false) out.push(name);
    else if (v && typeof v === "object") out = out.concat(v.ok === false ? [name] : falseChecks(v, name));
  }
  return out;
}

async function sendCommand(name) {
  if (name === "reboot" && !confirm(`Mulai ulang ${selected}? / Reboot ${selected}?`)) return;
  await api(`/api/devices/${encodeURIComponent(selected)}/commands`, {
    method: "POST", body: JSON.stringify({ name, timeout_s: 30, expires_in_s: 600 }) });
  await refreshUnit();
}

async function changeConfig(ev) {
  ev.preventDefault();
  const form = ev.target;
  clearFieldErrors(form);
  const key = form.elements.key.value;
  const raw = form.elements.value.value.trim();
  const value = raw === "" ? null : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  try {
    await api(`/api/devices/${encodeURIComponent(selected)}/config`, {
      method: "PUT", body: JSON.stringify({ settings: { [key]: value } }) });
  } catch (e) {
    fieldError(form, "value", e.message);
    return;
  }
  form.reset();
  await refreshUnit();
}

function initFleet() {
  const select = document.querySelector("#config-form select[name=key]");
  select.replaceChildren(...Object.entries(SETTING_WORDS).map(([k, words]) => el("option", { value: k }, words)));
  document.getElementById("config-form").addEventListener("submit", changeConfig);
  for (const b of document.querySelectorAll("#unit-actions button")) {
    b.addEventListener("click", () => sendCommand(b.dataset.command).catch((e) => showError(e.message)));
  }
  document.getElementById("unit-close").addEventListener("click", () => {
    selected = null;
    document.getElementById("unit-card").hidden = true;
  });
  document.getElementById("manage-head").hidden = !canRead();
  poll(refreshFleet);
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
