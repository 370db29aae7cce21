"""The simulated modem's AT command interpreter (27.007 / 27.005 subset).

Called by the simulator's worker thread with the simulator's lock held.
Unknown or malformed commands get ``ERROR`` (or ``+CME ERROR`` per
``AT+CMEE``), as on the real parts; one command per line (no ``;`` chains).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from firmware.modem import sms as smscodec
from firmware.modem.parser import split_fields
from firmware.sim import deliver
from firmware.sim.pdu import PduError, decode_submit
from firmware.sim.profiles import PROFILES
from firmware.sim.sim_audio import AudioSide

if TYPE_CHECKING:
    from firmware.sim.simulator import ModemSimulator

_EXT = re.compile(r"^([+*&][A-Z0-9]+)(=\?|\?|=)?(.*)$", re.IGNORECASE)
_ALL_ONLY = frozenset().union(*(p.only for p in PROFILES.values()))
_INT_SETTINGS = {
    "+CMGF": ("cmgf", (0, 1)),
    "+CMEE": ("cmee", (0, 1, 2)),
    "+CLIP": ("clip", (0, 1)),
    "+CSDH": ("csdh", (0, 1)),
    "+CREG": ("creg", (0, 1, 2)),
    "+CGREG": ("cgreg", (0, 1, 2)),
    "+CEREG": ("cereg", (0, 1, 2)),
    "+CLTS": ("clts", (0, 1)),
    "+CTZU": ("ctzu", (0, 1)),
    "+CTZR": ("ctzr", (0, 1, 2)),
}


_STAT = ("REC UNREAD", "REC READ", "STO UNSENT", "STO SENT")


class AtInterpreter(AudioSide):
    def __init__(self, sim: ModemSimulator) -> None:
        self.sim = sim

    # ---- dispatch ---------------------------------------------------------------
    def execute(self, line: str) -> None:
        sim = self.sim
        if line[:2].upper() != "AT":
            return  # real modems ignore noise that does not start with AT
        body = line[2:].strip()
        up = body.upper()
        if body == "":
            return sim.reply([], "OK")
        if up in ("E0", "E1"):
            sim.s["echo"] = up == "E1"
            return sim.reply([], "OK")
        if up in ("I", "I0"):
            return sim.reply(list(sim.profile.ati), "OK")
        if up in ("&W", "Z", "&F"):
            return sim.reply([], "OK")
        if up == "A":
            return self._answer()
        if up in ("H", "H0"):
            return self._hangup()
        if up.startswith("D"):
            return self._dial(body[1:])
        m = _EXT.match(body)
        if not m:
            return sim.error(100, "unknown")
        name, op, args = m.group(1).upper(), m.group(2) or "", m.group(3)
        if name in _ALL_ONLY and name not in sim.profile.only:
            return sim.error(100, "unknown")
        kind = {"": "exec", "?": "read", "=?": "test", "=": "set"}[op]
        if kind == "test":
            return sim.reply([], "OK")
        handler = getattr(self, "c_" + name[1:].replace("&", "_"), None)
        if name in _INT_SETTINGS and handler is None:
            return self._int_setting(name, kind, args)
        if handler is None:
            return sim.error(100, "unknown")
        return handler(kind, args)

    def _int_setting(self, name: str, kind: str, args: str) -> None:
        sim = self.sim
        key, allowed = _INT_SETTINGS[name]
        if kind == "read":
            if name in ("+CREG", "+CGREG", "+CEREG"):
                return sim.reply([f"{name}: {sim.s[key]},{self._reg_stat()}"], "OK")
            return sim.reply([f"{name}: {sim.s[key]}"], "OK")
        if kind != "set":
            return sim.error(100, "unknown")
        try:
            value = int(split_fields(args)[0])
        except ValueError:
            return sim.error(3, "operation not allowed")
        if value not in allowed:
            return sim.error(3, "operation not allowed")
        sim.s[key] = value
        sim.reply([], "OK")

    def _reg_stat(self) -> int:
        sim = self.sim
        if not sim.sim_present:
            return 0  # no SIM: not registered, not searching
        if not sim.registered:
            return 2 if sim.powered else 0
        return 5 if sim.roaming else 1

    # ---- identity and status ------------------------------------------------------
    def c_CGMM(self, kind: str, args: str) -> None:
        self.sim.reply([self.sim.profile.model], "OK")

    def c_CGMR(self, kind: str, args: str) -> None:
        self.sim.reply([self.sim.profile.revision], "OK")

    def c_CGSN(self, kind: str, args: str) -> None:
        self.sim.reply(["866782042513325"], "OK")

    def c_CPIN(self, kind: str, args: str) -> None:
        if not self.sim.sim_present:
            return self.sim.error(10, "SIM not inserted")
        self.sim.reply(["+CPIN: READY"], "OK" if self.sim.profile.cpin_ok else None)

    def c_CSQ(self, kind: str, args: str) -> None:
        self.sim.reply([f"+CSQ: {self.sim.rssi},0"], "OK")

    def c_CBC(self, kind: str, args: str) -> None:
        self.sim.reply(["+CBC: 0,82,4012"], "OK")

    def c_COPS(self, kind: str, args: str) -> None:
        sim = self.sim
        if kind == "read":
            return sim.reply(['+COPS: 0,0,"TELKOMSEL"' if sim.registered else "+COPS: 0"], "OK")
        sim.reply([], "OK")

    def c_CCLK(self, kind: str, args: str) -> None:
        sim = self.sim
        if kind != "read":
            return sim.reply([], "OK")
        now = sim.now_local()
        if now is None:
            return sim.reply(['+CCLK: "04/01/01,00:00:00+00"'], "OK")
        q = int((now.utcoffset() or timedelta()).total_seconds() // 900)
        sim.reply([f'+CCLK: "{now:%y/%m/%d,%H:%M:%S}{q:+03d}"'], "OK")

    def c_CFUN(self, kind: str, args: str) -> None:
        sim = self.sim
        if kind == "read":
            return sim.reply([f"+CFUN: {sim.s['cfun']}"], "OK")
        f = split_fields(args)
        sim.reply([], "OK")
        if len(f) > 1 and f[1] == "1":
            sim.reboot()
        elif f and f[0] in ("0", "1", "4"):
            sim.s["cfun"] = int(f[0])

    def c_CSCA(self, kind: str, args: str) -> None:
        self.sim.reply([f'+CSCA: "{self.sim.enc("+62816124")}",145'], "OK")

    def c_CPMS(self, kind: str, args: str) -> None:
        n = len(self.sim.storage)
        self.sim.reply([f'+CPMS: "SM",{n},30,"SM",{n},30,"SM",{n},30'], "OK")

    def c_CSCS(self, kind: str, args: str) -> None:
        sim = self.sim
        if kind == "read":
            return sim.reply([f'+CSCS: "{sim.s["cscs"]}"'], "OK")
        cs = split_fields(args)[0].upper()
        if cs not in ("IRA", "GSM", "UCS2", "HEX", "PCCP936"):
            return sim.error(3, "operation not allowed")
        sim.s["cscs"] = cs
        sim.reply([], "OK")

    def c_CSMP(self, kind: str, args: str) -> None:
        sim = self.sim
        if kind == "read":
            return sim.reply(["+CSMP: " + ",".join(str(x) for x in sim.s["csmp"])], "OK")
        try:
            sim.s["csmp"] = [int(x) for x in split_fields(args)]
        except ValueError:
            return sim.error(3, "operation not allowed")
        sim.reply([], "OK")

    def c_CNMI(self, kind: str, args: str) -> None:
        sim = self.sim
        if kind == "read":
            return sim.reply([f"+CNMI: 2,{sim.s['cnmi_mt']},0,0,0"], "OK")
        f = split_fields(args)
        try:
            sim.s["cnmi_mt"] = int(f[1]) if len(f) > 1 else 0
        except ValueError:
            return sim.error(3, "operation not allowed")
        sim.reply([], "OK")

    # ---- calls ----------------------------------------------------------------------
    def c_CLCC(self, kind: str, args: str) -> None:
        sim = self.sim
        if kind == "set":
            on = split_fields(args)[0] == "1"
            if on and not sim.profile.clcc_urc:
                return sim.error(4, "operation not supported")
            sim.s["clcc"] = 1 if on else 0
            return sim.reply([], "OK")
        if kind == "read":
            return sim.reply([f"+CLCC: {sim.s['clcc']}"], "OK")
        c = sim._call
        lines = []
        if c:
            stat = {"active": 0, "dialling": 2, "alerting": 3, "ringing": 4}[c["state"]]
            num = c["number"] or ""
            toa = 145 if num.startswith("+") else 129
            lines.append(f'+CLCC: 1,{c["dir"]},{stat},0,0,"{sim.enc(num)}",{toa}')
        sim.reply(lines, "OK")

    def c_CHUP(self, kind: str, args: str) -> None:
        self._hangup()

    def _answer(self) -> None:
        sim = self.sim
        c = sim._call
        if not c or c["dir"] != 1 or c["state"] != "ringing":
            return sim.reply([], "NO CARRIER")
        sim.reply([], "OK")  # the final OK first, then +CLCC / VOICE CALL: BEGIN
        sim._activate()
        if sim.network is not None:
            sim.network.answered(sim.number)

    def _hangup(self) -> None:
        sim = self.sim
        sim.reply([], "OK")
        if sim._call is not None:
            sim._end_call(None, local=True)
            if sim.network is not None:
                sim.network.hung_up(sim.number)

    def _dial(self, rest: str) -> None:
        sim = self.sim
        rest = rest.strip()
        if not rest.endswith(";"):
            return sim.reply([], "NO CARRIER")  # data calls are not simulated
        number = rest[:-1].strip()
        if not re.fullmatch(r"\+?[0-9*#]{1,20}", number):
            return sim.error(3, "operation not allowed")
        if sim._call is not None:
            return sim.error(3, "operation not allowed")
        if not sim.registered:
            return sim.reply([], "NO DIALTONE")
        if not sim.atd_waits:
            sim.reply([], "OK")
        sim._start_dial(number)

    # ---- SMS ------------------------------------------------------------------------
    def c_CMGF(self, kind: str, args: str) -> None:
        sim = self.sim
        if kind == "set" and split_fields(args)[0] == "0" and not sim.pdu_mode:
            return sim.error(303, sms=True)  # a text-only modem
        self._int_setting("+CMGF", kind, args)

    def c_CMGS(self, kind: str, args: str) -> None:
        sim = self.sim
        sim._data_mode = None
        if kind != "set":
            return sim.error(302, sms=True)
        f = split_fields(args)
        if sim.s["cmgf"] == 1:
            number = sim.dec(f[0])
            if not re.fullmatch(r"\+?[0-9]{1,20}", number):
                return sim.error(304, sms=True)
            return sim.prompt({"kind": "text", "number": number})
        try:
            length = int(f[0])
        except ValueError:
            return sim.error(304, sms=True)
        sim.prompt({"kind": "pdu", "length": length})

    def finish_data(self, mode: dict, payload: bytes, send: bool) -> None:
        sim = self.sim
        if not send or "kind" not in mode:
            return sim.reply([], "OK") if not send else None
        if not sim.registered:
            return sim.error(331, sms=True)  # no network service
        text = payload.decode("ascii", errors="replace")
        if mode["kind"] == "text":
            ucs2 = sim.s["cscs"] == "UCS2" or (sim.s["csmp"][3:4] == [8])
            body = smscodec.from_ucs2_hex(text) if ucs2 else text
            if body is None:
                return sim.error(304, sms=True)
            sim.record_submit(mode["number"], body, None, text)
        else:
            try:
                sub = decode_submit(text)
            except PduError:
                return sim.error(304, sms=True)
            if sub.tpdu_length != mode["length"]:
                return sim.error(304, sms=True)
            sim.record_submit(sub.number, sub.text, sub.concat, text)
        sim.reply([f"+CMGS: {sim.next_mr()}"], "OK")

    def _stored(self, msg: dict) -> tuple[str, str | None]:
        """``(header fields, body)`` of a stored message in the current mode."""
        sim = self.sim
        if sim.s["cmgf"] == 0:
            return f",{len(msg['tpdu'])}", deliver.with_smsc(msg["tpdu"])
        return deliver.text_mode(msg["tpdu"], csdh=bool(sim.s["csdh"]), ucs2=sim.s["cscs"] == "UCS2")

    def deliver_cmt(self, tpdu: bytes) -> None:
        sim = self.sim
        if sim.s["cmgf"] == 0:
            sim.urc(f"+CMT: ,{len(tpdu)}")
            body: str | None = deliver.with_smsc(tpdu)
        else:
            fields, body = deliver.text_mode(tpdu, csdh=bool(sim.s["csdh"]), ucs2=sim.s["cscs"] == "UCS2")
            sim.urc(f"+CMT: {fields}")
        sim._write((body or "").encode("ascii") + b"\r\n")

    def c_CMGR(self, kind: str, args: str) -> None:
        sim = self.sim
        try:
            idx = int(split_fields(args)[0])
        except ValueError:
            return sim.error(321, sms=True)
        msg = sim.storage.get(idx)
        if msg is None:
            return sim.reply([], "OK")  # empty slot: SIM800 answers a bare OK
        fields, body = self._stored(msg)
        status = msg["status"]
        msg["status"] = "REC READ"
        stat = str(_STAT.index(status)) if sim.s["cmgf"] == 0 else f'"{status}"'
        sim.reply([f"+CMGR: {stat},{fields}"] + ([body] if body is not None else []), "OK")

    def c_CMGL(self, kind: str, args: str) -> None:
        sim = self.sim
        arg = split_fields(args)[0] if args else ""
        if sim.s["cmgf"] == 0:  # PDU mode: <stat> is a number, 4 = all
            if arg and not arg.isdigit():
                return sim.error(304, sms=True)
            want = _STAT[int(arg)] if arg and int(arg) < 4 else ("ALL" if arg else "REC UNREAD")
        else:
            want = sim.dec(arg).upper() if arg else "REC UNREAD"
        lines = []
        for idx in sorted(sim.storage):
            msg = sim.storage[idx]
            if want != "ALL" and msg["status"] != want:
                continue
            fields, body = self._stored(msg)
            stat = str(_STAT.index(msg["status"])) if sim.s["cmgf"] == 0 else f'"{msg["status"]}"'
            lines += [f"+CMGL: {idx},{stat},{fields}"] + ([body] if body is not None else [])
            msg["status"] = "REC READ"
        sim.reply(lines, "OK")

    def c_CMGD(self, kind: str, args: str) -> None:
        sim = self.sim
        f = split_fields(args)
        try:
            idx = int(f[0])
            flag = int(f[1]) if len(f) > 1 else 0
        except ValueError:
            return sim.error(321, sms=True)
        if flag == 4:
            sim.storage.clear()
        else:
            sim.storage.pop(idx, None)
        sim.reply([], "OK")
