"""The message catalogue: every code a person may see, in Bahasa Indonesia
and English, in one place.

Why one catalogue: the pages and the API's error sentences read the same
words (``GET /api/labels``), so a status, category, call type, decline
reason or assignment state is never shown as its code (``on_scene``,
``security_disturbance``), and a new code without words fails a test
(:func:`missing`) instead of reaching a night-shift operator raw.
A catalogue in code (not gettext files) because the codes are enums here
and the words are few; ``lang`` picks one side (``id`` first, ``en``).
"""

from __future__ import annotations

import enum
from typing import Literal

from gateway.auth import Role
from gateway.lifecycle import AStatus, DeclineReason, RejectReason, ResponderKind, Status
from protocol.categories import CATALOGUE
from protocol.reports import CallEnd, CallType, Source

Lang = Literal["id", "en"]
LANGS: tuple[Lang, ...] = ("id", "en")

#: kind -> code -> (Bahasa Indonesia, English)
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "category": {c.value: (i.label_id, i.label_en) for c, i in CATALOGUE.items()},
    "status": {
        "received": ("Masuk", "Received"),
        "triaged": ("Diverifikasi", "Triaged"),
        "dispatched": ("Dikirim ke OPD", "Sent to the OPD"),
        "acknowledged": ("Ditanggapi OPD", "Acknowledged by the OPD"),
        "on_scene": ("Petugas di lokasi", "Responders on scene"),
        "resolved": ("Selesai ditangani", "Resolved"),
        "closed": ("Ditutup", "Closed"),
        "rejected": ("Ditolak", "Rejected"),
    },
    "assignment": {
        "dispatched": ("Menunggu tanggapan", "Waiting for the OPD"),
        "acknowledged": ("Ditanggapi", "Acknowledged"),
        "on_scene": ("Di lokasi", "On scene"),
        "resolved": ("Selesai", "Resolved"),
        "declined": ("Ditolak OPD", "Declined by the OPD"),
        "withdrawn": ("Dialihkan", "Re-routed"),
    },
    "call_type": {
        "emergency": ("Darurat", "Emergency"),
        "information": ("Informasi", "Information"),
        "ghost": ("Kosong (diam)", "Ghost (silent)"),
        "prank": ("Iseng", "Prank"),
        "test": ("Uji", "Test"),
        "misdial": ("Salah sambung", "Misdial"),
        "untyped": ("Belum dijenis", "Not typed yet"),
    },
    "decline": {
        "not_ours": ("Bukan wewenang kami", "Not ours"),
        "no_capacity": ("Tidak ada kapasitas", "No capacity"),
        "duplicate": ("Laporan ganda", "Duplicate"),
        "other": ("Alasan lain", "Other reason"),
    },
    "reject": {
        "prank": ("Iseng", "Prank"),
        "test": ("Uji", "Test"),
        "duplicate": ("Duplikat", "Duplicate"),
        "ghost": ("Panggilan kosong", "Ghost call"),
        "misdial": ("Salah sambung", "Misdial"),
    },
    "responder_kind": {
        "team": ("Regu/tim", "Team"),
        "vehicle": ("Kendaraan", "Vehicle"),
        "person": ("Petugas", "Officer"),
    },
    "source": {
        "field_button": ("Tombol kotak", "Call-box button"),
        "panel_call": ("Telepon 112", "112 call"),
        "sms": ("SMS", "SMS"),
        "operator": ("Diketik operator", "Typed by an operator"),
    },
    "role": {
        "operator": ("Operator", "Operator"),
        "supervisor": ("Supervisor", "Supervisor"),
        "mayor": ("Wali kota / pimpinan", "Mayor / leadership"),
        "opd": ("OPD", "OPD"),
        "admin": ("Admin", "Admin"),
    },
    # audit rows (transitions.event); a status row speaks of its target status
    "event": {
        "status": ("Status", "Status"),
        "assign": ("Dikirim ke OPD", "Sent to an OPD"),
        "withdraw": ("Dialihkan dari OPD", "Re-routed away from an OPD"),
        "acknowledge": ("Ditanggapi OPD", "Acknowledged by the OPD"),
        "on_scene": ("Petugas tiba", "Responders on scene"),
        "resolve": ("Selesai oleh OPD", "Resolved by the OPD"),
        "decline": ("Ditolak OPD", "Declined by the OPD"),
        "responder": ("Petugas ditunjuk", "Responder named"),
        "escalation": ("Eskalasi SLA", "SLA escalation"),
        "redispatch": ("Dikirim ulang", "Sent again"),
        "dead_letter": ("Pengiriman gagal", "Delivery failed"),
        "call_type": ("Jenis panggilan diubah", "Call type set"),
        "merged": ("Salinan digabung", "Copy merged"),
        "note": ("Catatan", "Note"),
        "duplicate": ("Digabung sebagai duplikat", "Merged as a duplicate"),
        "handoff": ("Diserahkan lewat telepon", "Handed off by phone"),
    },
    "via": {
        "api": ("konsol/API", "console/API"),
        "callback": ("sistem OPD", "OPD system"),
        "dispatch": ("pengiriman", "dispatch"),
        "mqtt": ("perangkat", "device"),
        "sla": ("jam SLA", "SLA clock"),
        "sms": ("SMS", "SMS"),
        "rules": ("aturan", "rules"),
    },
    "delivery": {
        "pending": ("Menunggu kirim", "Pending"),
        "delivered": ("Terkirim", "Delivered"),
        "dead": ("Gagal (berhenti)", "Failed (gave up)"),
    },
    "channel": {
        "webhook": ("Webhook", "Webhook"),
        "mqtt": ("Terminal MQTT", "MQTT terminal"),
        "sms": ("SMS", "SMS"),
    },
    "device_state": {
        "online": ("Daring", "Online"),
        "offline": ("Luring", "Offline"),
        "disabled": ("Dinonaktifkan", "Disabled"),
        "revoked": ("Dicabut", "Revoked"),
        "unknown": ("Belum diketahui", "Unknown"),
    },
    "call_end": {
        "remote_hangup": ("Penelepon menutup", "Caller hung up"),
        "local_hangup": ("Operator menutup", "Operator hung up"),
        "missed": ("Tak terjawab", "Missed"),
        "abandoned": ("Penelepon menutup saat berdering", "Abandoned while ringing"),
        "busy": ("Sibuk", "Busy"),
        "no_answer": ("Tak dijawab", "No answer"),
        "no_carrier": ("Sambungan putus", "Line dropped"),
        "modem_reset": ("Modem diulang", "Modem reset"),
        "error": ("Gangguan", "Error"),
    },
    # buttons: the steps of allowed_actions (case level, OPD level) and the case page's own
    "action": {
        "triaged": ("Verifikasi", "Triage"),
        "dispatched": ("Kirim ke OPD", "Send to the OPD"),
        "rejected:duplicate": ("Duplikat", "Duplicate"),
        "closed": ("Tutup kasus", "Close the case"),
        "type:prank": ("Iseng", "Prank"),
        "type:ghost": ("Kosong", "Ghost"),
        "type:test": ("Uji", "Test"),
        "type:misdial": ("Salah sambung", "Misdial"),
        "assign": ("Tambah OPD", "Add OPD"),
        "reroute": ("Alihkan dari", "Re-route from"),
        "handoff": ("Sudah diserahkan lewat telepon", "Handed off by phone"),
        "merge": ("Gabungkan ke kasus", "Merge into case"),
        "note": ("Tambah catatan", "Add a note"),
        "acknowledged": ("Terima", "Accept"),
        "on_scene": ("Tiba di lokasi", "On scene"),
        "resolved": ("Selesai", "Resolved"),
        "declined": ("Tolak", "Decline"),
        "responder": ("Ganti petugas", "Change responder"),
    },
    # request fields, named in the API's error sentences (gateway.api.messages)
    "field": {
        "category": ("kategori", "category"), "caller": ("nomor penelepon", "caller"),
        "description": ("keterangan", "description"), "location": ("lokasi", "location"),
        "area": ("kecamatan", "area"), "label": ("alamat", "address"), "lat": ("lintang", "latitude"),
        "lon": ("bujur", "longitude"), "call_type": ("jenis panggilan", "call type"),
        "note": ("catatan", "note"), "reason": ("alasan", "reason"), "opds": ("OPD", "OPDs"),
        "to": ("status", "status"), "into": ("kasus utama", "main case"),
        "text": ("catatan", "note"),
    },
}

#: each kind whose codes come from an enum: the catalogue must cover all of them
ENUMS: dict[str, type[enum.Enum]] = {
    "status": Status, "assignment": AStatus, "call_type": CallType, "decline": DeclineReason,
    "reject": RejectReason, "responder_kind": ResponderKind, "source": Source, "role": Role,
    "call_end": CallEnd,
}


def label(kind: str, code: str | None, lang: Lang = "id") -> str:
    """The word for a code; an unknown code comes back as itself (never an error)."""
    if code is None:
        return "–"
    pair = LABELS.get(kind, {}).get(code)
    return pair[LANGS.index(lang)] if pair else code


def both(kind: str, code: str) -> str:
    """'Kata / word', the project's way for text shown to everyone."""
    pair = LABELS.get(kind, {}).get(code)
    return f"{pair[0]} / {pair[1]}" if pair and pair[0] != pair[1] else (pair[0] if pair else code)


def table(lang: Lang) -> dict[str, dict[str, str]]:
    """The whole catalogue in one language, as the pages load it."""
    i = LANGS.index(lang)
    return {kind: {code: pair[i] for code, pair in codes.items()} for kind, codes in LABELS.items()}


def missing() -> list[str]:
    """Codes of the enums above that have no words (a test keeps this empty)."""
    return [f"{kind}:{m.value}" for kind, e in ENUMS.items() for m in e
            if str(m.value) not in LABELS[kind]]
