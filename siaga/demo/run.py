"""Start the whole demo: broker, gateway, stand-in OPDs, simulated units,
and a scenario; print where to look; stop everything on Ctrl-C."""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import secrets
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from central.broker.process import MosquittoProcess, free_port
from gateway.errors import GatewayError
from gateway.fleet.errors import FleetError
from siaga.demo.opd_sim import OpdPace, OpdSimulator
from siaga.demo.operator import OperatorDesk
from siaga.demo.provision import provision
from siaga.demo.scenario import Scenario
from siaga.demo.site import demo_site, set_broker_password
from siaga.demo.units import FIELD_BOXES, PANELS, SimUnit, start_unit
from siaga.errors import SiagaError

log = logging.getLogger("siaga.demo")

#: the centre's SMS modem on the simulated GSM network (units' SMS fallback goes there)
CENTRE_SMS = "+6281100000112"

#: how fast each stand-in OPD answers (seconds): the dashboard shows the spread
PACES = {
    "damkar": OpdPace(ack_s=(2, 6), resolve_s=(10, 25)),
    "dinkes": OpdPace(ack_s=(3, 8), resolve_s=(15, 40)),
    "bpbd": OpdPace(ack_s=(5, 20), resolve_s=(30, 90)),
    "satpol_pp": OpdPace(ack_s=(10, 40), resolve_s=(40, 120)),
    "dp3a": OpdPace(ack_s=(8, 30), resolve_s=(60, 150)),
    "dinas_pu": OpdPace(ack_s=(30, 120), resolve_s=(120, 300)),
    "polres": OpdPace(ack_s=(5, 15), resolve_s=(30, 60)),
}


@dataclass
class Demo:
    state: Path
    http_port: int = 8112
    interval_s: float = 8.0
    seed: int | None = None  # the scenario's random seed: the same events every run
    #: the simulated operator triages the scenario's cases (False: ``--no-operator``, a person does)
    sim_operator: bool = True
    units: list[SimUnit] = field(default_factory=list)
    broker: MosquittoProcess | None = None
    gateway: Any = None
    opds: OpdSimulator | None = None
    scenario: Scenario | None = None
    operator: OperatorDesk | None = None
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)
    sim_login: tuple[str, str] | None = None  # the simulated operator's own account
    net_host: Any = None  # firmware.sim.netcontrol.NetworkHost: the simulated GSM network
    net_server: Any = None  # its control port
    links: Any = None  # siaga.demo.control.IpLinks: each unit's cuttable link to the broker
    control: Any = None  # siaga.demo.control.DemoControl: the demo control page

    def start(self, say=print) -> None:
        from gateway.config import load_config
        from gateway.runtime import Gateway

        self.state.mkdir(parents=True, exist_ok=True)
        broker_port = free_port()
        say("1/5 Sistem OPD tiruan / stand-in OPD systems ...")
        port = self.http_port if _port_free(self.http_port) else free_port()
        self.opds = OpdSimulator(gateway_url=f"http://127.0.0.1:{port}", secrets={}, paces=PACES)
        self.opds.start()
        from firmware.sim.control import ControlServer
        from firmware.sim.netcontrol import NetworkHost
        from firmware.sim.network import GsmNetwork

        # one simulated GSM network: the boxes, the panel (number 112) and the centre's SMS modem
        self.net_host = NetworkHost(GsmNetwork(sms_delay_s=1.0))
        self.net_server = ControlServer(None, handler=self.net_host.run)
        site_path, central_path, opd_secrets = demo_site(
            self.state, broker_port=broker_port, http_port=port, webhook_url=self.opds.webhook_url,
            sms_modem_url=self.net_host.modem(CENTRE_SMS), centre_sms_number=CENTRE_SMS)
        self.opds.secrets.update(opd_secrets)

        say("2/5 Provisi unit + broker MQTT dengan sandi per perangkat dan ACL / provisioning units, "
            "broker with per-device passwords and ACL ...")
        cfg = load_config(site_path)
        for opd in cfg.opds:  # OPD duty phones get dispatches by SMS: `inbox <number>` shows them
            for number in opd.channels.sms:
                self.net_host.network.phone(number)
        gw_password = provision(central_path, cfg.gateway.database_url)
        for path in (site_path, central_path):
            set_broker_password(path, gw_password)
        site_dir = self.state / "central-site"
        self.broker = MosquittoProcess(self.state / "broker", port=broker_port, anonymous=False,
                                       password_file=site_dir / "passwd", acl_file=site_dir / "acl")
        self.broker.own_process_group = True  # Ctrl-C reaches the demo only; stop() orders the rest
        stale = self.broker.stop_stale()  # left by a demo killed outright (SIGKILL)
        if stale:
            say(f"    broker lama dihentikan / stopped the broker a killed demo left (pid {stale})")
        self.broker.start()

        say("3/5 Gateway pusat / central gateway ...")
        self.gateway = Gateway(load_config(site_path))
        self.gateway.start()
        self._create_logins()

        say("4/5 Unit tersimulasi / simulated units (mock GPIO + simulated GSM modems) ...")
        from siaga.demo.control import DemoControl, IpLinks

        self.links = IpLinks("127.0.0.1", self.broker.port)
        net = self.net_host.network
        for i, (device_id, label, area, lat, lon) in enumerate(FIELD_BOXES, 1):
            link = self.links.port_for(device_id)  # through a link the control page can cut
            self.units.append(start_unit(device_id, "field", self.state, broker_port=link,
                                         place=(label, area, lat, lon), network=net,
                                         number=f"+6281100000{i:03d}", sms_numbers=[CENTRE_SMS]))
        for device_id in PANELS:  # the boxes dial 112: it rings this panel, answered by the simulation
            self.units.append(start_unit(device_id, "panel", self.state,
                                         broker_port=self.links.port_for(device_id),
                                         network=net, number="112",
                                         operator=self.sim_login[0] if self.sim_login else None))
        for unit in self.units:  # field boxes start with the door shut and mains on (sim_pins)
            unit.wait_ready()

        control_port = self.http_port + 1 if _port_free(self.http_port + 1) else free_port()
        self.control = DemoControl(self, self.links, centre_sms=CENTRE_SMS, port=control_port).start()

        say("5/5 Skenario / scenario: warga dan panggilan 112 / citizens and 112 calls ...")
        self.scenario = Scenario([u for u in self.units if u.profile == "field"],
                                 [u for u in self.units if u.profile == "panel"],
                                 interval_s=self.interval_s, seed=self.seed)
        self.scenario.start()
        if self.sim_operator and self.sim_login:
            self.operator = OperatorDesk(self.gateway.url, *self.sim_login, said=self.scenario.said,
                                         placed=self.scenario.placed)
            self.operator.start()

    def _create_logins(self) -> None:
        """One login per role for people, with a random password each run, and
        the simulated operator's own account (the audit trail names it, never
        the person's)."""
        from gateway import auth

        with self.gateway.db.session() as s:
            for user, role, opd in (("admin", "admin", None), ("supervisor", "supervisor", None),
                                    ("operator", "operator", None), ("damkar", "opd", "damkar"),
                                    ("simulasi", "operator", None),
                                    ("walikota", "mayor", None)):
                password = secrets.token_urlsafe(9)
                name = f"demo-{user}-{password[:4].lower()}"
                with contextlib.suppress(auth.AuthError, ValueError):
                    auth.create_user(s, name, password, role, opd=opd)
                    if user == "simulasi":
                        self.sim_login = (name, password)
                    else:
                        self.logins[role if role != "opd" else "opd (damkar)"] = (name, password)

    def summary(self) -> str:
        url = self.gateway.url
        lines = [
            "",
            "Siaga 112 demo berjalan / is running.",
            f"  Konsol operator: {url}/console",
            f"  Portal OPD     : {url}/opd",
            f"  Dasbor KPI     : {url}/dashboard",
            f"  Armada / fleet : {url}/fleet",
            f"  Kendali demo   : {self.control.url if self.control else '?'} "
            "(tekan tombol, putus jaringan / press buttons, cut networks)",
            f"  API + OpenAPI  : {url}/docs",
            f"  KPI            : {url}/api/kpis",
            f"  Rapor bulanan  : {url}/api/reports/rapor.pdf",
            f"  Metrik         : {url}/metrics",
            f"  Broker MQTT    : 127.0.0.1:{self.broker.port if self.broker else '?'} "
            "(sandi per perangkat + ACL / per-device passwords + ACL)",
            f"  Jaringan GSM   : 127.0.0.1:{self.net_server.port if self.net_server else '?'} "
            "(nc: coverage <nomor> off | sms <dari> <ke> <teks> | inbox <nomor> | state)",
            f"  Berkas / state : {self.state} (bundel SD / SD bundles: {self.state / 'bundles'})",
            "  Login (kata sandi acak per jalan / random passwords per run):",
        ]
        lines += [f"    {role:14} {u} / {p}" for role, (u, p) in self.logins.items()]
        if self.operator and self.sim_login:
            lines += [f"  Operator simulasi / simulated operator: {self.sim_login[0]} (akunnya sendiri / "
                      "its own account) menangani kasus skenario; laporan yang Anda ketik tetap milik Anda. "
                      "/ triages the scenario's cases; the reports you type are yours. "
                      "`--no-operator`: semua untuk Anda / all yours."]
        else:
            lines += ["  Operator simulasi mati / simulated operator off (--no-operator): "
                      "semua kasus menunggu Anda di konsol / every case waits for you in the console."]
        lines += ["  Ctrl-C untuk berhenti / to stop.", ""]
        return "\n".join(lines)

    def progress(self) -> str:
        from sqlalchemy import func, select

        from gateway import flags
        from gateway.clock import utcnow
        from gateway.store.models import Incident

        with self.gateway.db.session() as s:
            total = s.scalar(select(func.count()).select_from(Incident)) or 0
            flagged = len(flags.active(s, utcnow()))
            by_status = dict(s.execute(select(Incident.status, func.count()).group_by(Incident.status)).all())
        sc = self.scenario
        parts = ", ".join(f"{k}={v}" for k, v in sorted(by_status.items(), key=lambda kv: str(kv[0])))
        kinds = ",".join(f"{k}:{n}" for k, n in sorted(sc.by_kind.items())) if sc else ""
        return (f"[demo] tekan/presses={sc.presses if sc else 0} panggilan/calls={sc.calls if sc else 0} "
                f"kotak->112/box calls={sc.box_calls if sc else 0} "
                f"kasus/cases={total} ({parts}) webhook OPD={len(self.opds.received) if self.opds else 0} "
                f"jenis/types=({kinds}) ditandai/flagged={flagged}")

    def vital_failure(self) -> str | None:
        """What died of what the demo cannot go on without, or None."""
        if self.broker and not self.broker.running:
            rc = self.broker.proc.returncode if self.broker.proc else None
            return (f"broker MQTT mati / the MQTT broker died (exit {rc}); "
                    f"log: {self.broker.log_path}")
        if self.gateway and not self.gateway.alive():
            return "gateway berhenti / a gateway worker thread stopped"
        for unit in self.units:
            if unit.proc and unit.proc.poll() is not None:
                return (f"unit {unit.device_id} mati / died (exit {unit.proc.returncode}); "
                        f"log: {unit.workdir / 'agent.log'}")
        return None

    def stop(self) -> None:
        if self.scenario:
            self.scenario.stop()
        if self.operator:
            self.operator.stop()
        if self.opds:
            self.opds.stop()
        if self.control:
            self.control.stop()
        for unit in self.units:
            unit.stop()
        if self.links:
            self.links.close()
        if self.gateway:
            self.gateway.stop()
        if self.net_server:
            self.net_server.close()
        if self.net_host:
            self.net_host.close()
        if self.broker:
            self.broker.stop()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def run_demo(state: Path, *, duration_s: float | None, interval_s: float, fresh: bool,
             http_port: int = 8112, seed: int | None = None, sim_operator: bool = True) -> int:
    if fresh and state.exists():
        shutil.rmtree(state)
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    demo = Demo(state=state, interval_s=interval_s, http_port=http_port, seed=seed,
                sim_operator=sim_operator)
    stop = threading.Event()
    # `kill -USR1 <pid>` prints where every thread is (a stop that hangs can be read)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C too: a KeyboardInterrupt lands wherever the main thread is (inside a database
    # session, a lock) and a process started with SIGINT ignored (as by some test runners)
    # never raises it; seen as a demo that ran on for 90 s after Ctrl-C in CI
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # the children are in process groups of their own (Ctrl-C reaches only this process, which
    # stops the units first, then their links, the gateway, the broker): a closed terminal's
    # SIGHUP must stop them the same way, not leave them behind
    signal.signal(signal.SIGHUP, lambda *_: stop.set())
    try:
        demo.start()
        print(demo.summary(), flush=True)
        deadline = time.monotonic() + duration_s if duration_s else None
        next_progress = time.monotonic() + 10
        # wake every second to watch the children; progress every 10 s
        while not stop.wait(1.0 if not deadline else min(1.0, max(0.1, deadline - time.monotonic()))):
            dead = demo.vital_failure()
            if dead:
                print(f"Demo berhenti / demo stopped: {dead}", flush=True)
                return 1
            if time.monotonic() >= next_progress:
                next_progress += 10
                print(demo.progress(), flush=True)
            if deadline and time.monotonic() >= deadline:
                break
        print(demo.progress(), flush=True)
    except KeyboardInterrupt:
        pass
    except (SiagaError, FleetError, GatewayError) as exc:  # our own, already explained
        print(f"Demo gagal / demo failed: {exc}", flush=True)
        return 1
    finally:
        print("Berhenti / stopping ...", flush=True)
        demo.stop()
    return 0
