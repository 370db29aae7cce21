"""The simulator's SMS network side: what the network delivers, what we sent.

Messages are kept as SMS-DELIVER TPDUs, as on a SIM, and printed the way
real modems print them: PDU mode as SMSC + TPDU hex, text mode with hex
user data for long GSM 7-bit parts, 8-bit and UCS2 (see ``deliver.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from firmware.sim import deliver
from firmware.sim.state import SimState

STORAGE_SLOTS = 30
WIB = timezone(timedelta(hours=7))  # Western Indonesia Time


class SmsSide(SimState):
    """Mixin of :class:`ModemSimulator` (split out to keep each file short)."""

    def receive_sms(self, number: str, text: str, sent_at: datetime | None = None,
                    *, alphabet: str | None = None, ref_bits: int = 8) -> list[int]:
        """The network delivers an SMS from ``number`` (digits, ``+62...`` or a name such
        as ``TELKOMSEL``). ``alphabet``: ``gsm7`` (extension characters as escapes),
        ``8bit`` or ``ucs2``; by default GSM 7-bit when the text allows. Long texts
        come in parts with an 8- or 16-bit reference (``ref_bits``). Returns slots."""
        when = sent_at or self.now_local() or datetime(2026, 11, 23, 14, 0, tzinfo=WIB)
        if alphabet is None:
            alphabet = "gsm7" if deliver.gsm7_septets(text) is not None else "ucs2"
        chunks = deliver.split(text, alphabet, ref_bits)
        ref = self._rng.randrange(256 if ref_bits == 8 else 65536)
        slots = []
        for i, chunk in enumerate(chunks):
            concat = (ref, len(chunks), i + 1) if len(chunks) > 1 else None
            slot = self.deliver_pdu(deliver.deliver_tpdu(number, chunk, alphabet, when, concat, ref_bits))
            if slot is not None:
                slots.append(slot)
        return slots

    def deliver_pdu(self, tpdu: bytes | str) -> int | None:
        """The network delivers one SMS-DELIVER TPDU built elsewhere (a test's own
        builder): pushed as ``+CMT`` or stored with ``+CMTI``, per ``AT+CNMI``."""
        raw = bytes.fromhex(tpdu) if isinstance(tpdu, str) else bytes(tpdu)
        with self._lock:
            if self.s["cnmi_mt"] == 2:
                self._at.deliver_cmt(raw)
                return None
            slot = self.store(raw)
            if slot is not None and self.s["cnmi_mt"] == 1:
                self.urc(f'+CMTI: "SM",{slot}')
            return slot

    def store_status_report(self, recipient: str, mr: int = 1,
                            *, notify: bool = False) -> int | None:
        """A delivery report lands on the SIM (``notify``: with ``+CDSI``)."""
        when = self.now_local() or datetime(2026, 11, 23, 14, 0, tzinfo=WIB)
        with self._lock:
            slot = self.store(deliver.status_report_tpdu(recipient, mr, when))
            if slot is not None and notify:
                self.urc(f'+CDSI: "SM",{slot}')
            return slot

    def store(self, tpdu: bytes) -> int | None:
        slot = next((i for i in range(1, STORAGE_SLOTS + 1) if i not in self.storage), None)
        if slot is None:
            self.urc('+CIEV: "MESSAGE",0')  # storage full: the real modem also goes quiet
            return None
        self.storage[slot] = {"tpdu": tpdu, "status": "REC UNREAD"}
        return slot

    def record_submit(self, number: str, text: str,
                      concat: tuple[int, int, int] | None, raw: str) -> None:
        self.sent_parts.append({"number": number, "text": text, "concat": concat, "raw": raw})
        if concat is None:
            self._sent_whole(number, text)
            return
        ref, total, seq = concat
        entry = self._concat.setdefault((number, ref), {"total": total, "parts": {}})
        entry["parts"][seq] = text
        if len(entry["parts"]) >= entry["total"]:
            del self._concat[(number, ref)]
            self._sent_whole(number, "".join(entry["parts"][k] for k in sorted(entry["parts"])))

    def _sent_whole(self, number: str, text: str) -> None:
        """A whole message (all its parts) went out: the network carries it on."""
        self.sent_sms.append((number, text))
        if self.network is not None:
            self.network.send_sms(self.number, number, text)

    def next_mr(self) -> int:
        self._mr = (self._mr + 1) % 256
        return self._mr
