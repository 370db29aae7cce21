"""The unit's updater: signed A/B updates with a health check and rollback.

Steps (docs/updates.md): ``update`` command -> download (resumable) ->
verify (root -> targets signatures, version above the running one, length
and sha256 of every file) -> install into the inactive slot (a fresh venv
from the verified wheels only) -> switch (state ``switching``, atomic
symlink flip, restart through systemd) -> the new version confirms its health
(connected, store open, self-test passes) within ``confirm_s``, or it and the
boot guard (``bootguard.py``) point ``current`` back at the old slot.

Why the heavy steps run on a thread and the switch on the main loop: a
download may take an hour on 2G and must not stall presses; the switch needs
the call state and the outbox, which only the main loop owns. The switch
waits while a call is up, and while undelivered records exist if the new
version writes a store format the old one could not read back.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from firmware.agent import bootguard as bg
from firmware.agent import events as ev
from firmware.agent.store import STORE_COMPAT
from protocol.fleet import UpdateReport, UpdateState
from protocol.selftest import SelfTestTrigger

if TYPE_CHECKING:  # pragma: no cover
    from firmware.agent.config import UnitConfig
    from firmware.agent.events import AgentEvent
    from firmware.agent.health import Health
    from firmware.agent.link import Link
    from firmware.agent.modem import ModemPort
    from firmware.agent.store import Store
    from firmware.agent.updsig import Targets

log = logging.getLogger(__name__)

#: updater phase -> what central sees
REPORTED = {"offered": UpdateState.OFFERED, "downloading": UpdateState.DOWNLOADING,
            "verifying": UpdateState.DOWNLOADING, "installing": UpdateState.DOWNLOADING,
            "installed": UpdateState.INSTALLED, "switching": UpdateState.INSTALLED,
            "trial": UpdateState.INSTALLED, "confirmed": UpdateState.CONFIRMED,
            "rolled_back": UpdateState.ROLLED_BACK, "failed": UpdateState.FAILED}
BUSY = ("offered", "downloading", "verifying", "installing", "installed", "switching", "trial")
SELF_TEST_EVERY_S = 10.0


class UpdateHost(Protocol):
    """What the updater may use of its unit (the agent satisfies it; mypy checks)."""

    cfg: UnitConfig
    version: str
    store: Store
    link: Link
    modem: ModemPort
    health: Health

    def event(self, kind: str, detail: Any = None, *, level: str = "INFO") -> None: ...

    def enqueue(self, event: AgentEvent) -> None: ...

    def report_soon(self) -> None: ...

    def request_stop(self, code: int = 0) -> None: ...

    def self_test(self, trigger: SelfTestTrigger = ...) -> dict[str, Any]: ...


class Updater:
    def __init__(self, agent: UpdateHost) -> None:
        self.a = agent
        self.cfg = agent.cfg.updates
        self.root = self.cfg.dir
        self.state = bg.load_state(self.root)
        self._thread: threading.Thread | None = None
        self._ready: tuple[Targets, Path] | None = None
        self._trial_deadline: float | None = None
        self._next_check = 0.0
        if self.cfg.test_pause_s and os.environ.get("GPIOZERO_PIN_FACTORY", "").lower() != "mock":
            from firmware.agent.updsig import UpdateRefused

            raise UpdateRefused("config", "updates.test_pause_s is test-only (GPIOZERO_PIN_FACTORY=mock)")

    # -- state -------------------------------------------------------------

    def _save(self, **changes: Any) -> None:
        self.state = dict(self.state, **changes)
        bg.save_state(self.root, self.state)
        self.a.report_soon()  # tell central promptly

    def _phase(self, phase: str, **changes: Any) -> None:
        self._save(phase=phase, at=time.time(), **changes)
        log.info("Pembaruan / update %s: %s", self.state.get("version"), phase)
        if self.cfg.test_pause_s:
            time.sleep(self.cfg.test_pause_s)

    def report(self) -> UpdateReport | None:
        st = self.state
        phase, version = st.get("phase"), st.get("version")
        if phase not in REPORTED or not version:
            return None
        at = st.get("at")
        return UpdateReport(version=str(version)[:32], state=REPORTED[phase], error=st.get("error"),
                            at=datetime.fromtimestamp(at, UTC) if isinstance(at, int | float) else None)

    # -- start: what the last run left -------------------------------------

    def on_start(self) -> None:
        phase = self.state.get("phase")
        running = Path(sys.prefix).resolve()
        if phase in ("offered", "downloading", "verifying", "installing", "installed"):
            # killed (or power cut) before the switch: the old slot never stopped being current
            self._save(phase="failed", error=f"terputus / interrupted while {phase}", at=time.time())
            self.a.event("update_interrupted", {"version": self.state.get("version"), "phase": phase},
                         level="WARNING")
        elif phase == "trial":
            if running != Path(str(self.state.get("target", ""))).resolve():
                self._save(phase="rolled_back", error="slot lama berjalan / old slot running", at=time.time())
                return
            left = float(self.state.get("deadline", 0)) - time.time()
            self._trial_deadline = time.monotonic() + max(0.0, left)
            log.info("Versi %s dalam uji / on trial, %.0f s to confirm", self.a.version, left)
        elif phase == "rolled_back" and not self.state.get("logged"):
            log.error("Pembaruan dibatalkan / update %s rolled back: %s", self.state.get("version"),
                      self.state.get("error"))
            self.a.event("update_rolled_back", {"version": self.state.get("version"),
                                                "error": self.state.get("error")}, level="ERROR")
            self._save(logged=True)

    # -- the command -------------------------------------------------------

    def command(self, version: str, url: str | None) -> dict[str, Any]:
        """Accept an update (the heavy work starts on a thread) or raise UpdateRefused."""
        from firmware.agent.updsig import UpdateRefused, parse_version

        if not self.cfg.root_keys:
            raise UpdateRefused("disabled", "no root key pinned (updates.root_keys)")
        base = url or self.cfg.base_url
        if not base or not base.startswith(("http://", "https://")):
            raise UpdateRefused("no_url", "no repository URL (args.url or updates.base_url)")
        if self.state.get("phase") in BUSY or (self._thread and self._thread.is_alive()):
            raise UpdateRefused("busy", f"update {self.state.get('version')} in progress "
                                        f"({self.state.get('phase')})")
        if parse_version(version) <= parse_version(self.a.version):
            raise UpdateRefused("rollback", f"{version} is not above the running {self.a.version}")
        self._save(phase="offered", version=version, error=None, at=time.time(), base_url=base)
        self._thread = threading.Thread(target=self._work, args=(version, base.rstrip("/")),
                                        name="updater", daemon=True)
        self._thread.start()
        return {"accepted": version, "running": self.a.version}

    def request(self, version: str, url: str | None) -> None:
        """From the desired config: like the command, but a refusal is recorded
        (and reported in the heartbeat) instead of replied; a running update wins."""
        from firmware.agent.updsig import UpdateRefused

        try:
            self.command(version, url)
        except UpdateRefused as exc:
            log.warning("Pembaruan dari konfigurasi ditolak / update %s from desired config refused: %s",
                        version, exc)
            self.a.event("update_refused", {"version": version, "error": str(exc)}, level="WARNING")
            if exc.reason != "busy":
                self._save(phase="failed", version=version, error=str(exc)[:200], at=time.time())

    def _work(self, version: str, base: str) -> None:
        from firmware.agent.updsig import UpdateRefused

        try:
            targets, slot = self._prepare(version, base)
        except UpdateRefused as exc:
            log.error("Pembaruan ditolak / update %s refused: %s", version, exc)
            self._save(phase="failed", error=str(exc)[:200], at=time.time())
            self.a.enqueue(ev.UpdateRefused(version, str(exc)))
            return
        except Exception as exc:  # never let the thread die silently
            log.exception("updater")
            self._save(phase="failed", error=f"internal: {exc}"[:200], at=time.time())
            return
        self.a.enqueue(ev.UpdateReady(targets, slot))

    def _prepare(self, version: str, base: str) -> tuple[Targets, Path]:
        # imported here: urllib/ssl cost ~40 ms at every agent start, needed only while updating
        from firmware.agent.updfetch import download, fetch_small, install_slot, sha256_file
        from firmware.agent.updsig import UpdateRefused, parse_version, verify_root, verify_targets

        cfg, timeout = self.cfg, self.cfg.download_timeout_s
        self._phase("downloading")
        raw_root = fetch_small(f"{base}/root.json", timeout=timeout, ca_file=cfg.ca_file)
        root = verify_root(raw_root, list(cfg.root_keys), min_version=int(self.state.get("root_version", 0)))
        raw_targets = fetch_small(f"{base}/{version}/targets.json", timeout=timeout, ca_file=cfg.ca_file)
        targets = verify_targets(raw_targets, root)
        if targets.version != version:
            raise UpdateRefused("mix_and_match", f"manifest is for {targets.version}, asked {version}")
        if parse_version(targets.version) <= parse_version(self.a.version):
            raise UpdateRefused("rollback", f"{targets.version} is not above the running {self.a.version}")
        self._save(root_version=root.version)
        self._check_space(targets)
        dl = self.root / "download" / version
        dl.mkdir(parents=True, exist_ok=True)
        for old in (self.root / "download").iterdir():
            if old.name != version and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        for name, info in targets.files.items():
            def on_retry(n: int, err: str, name: str = name) -> None:
                log.warning("unduhan / download %s: retry %d (%s)", name, n, err)
            download(f"{base}/{version}/{name}", dl / name, info, timeout=timeout,
                     retries=cfg.download_retries, ca_file=cfg.ca_file, on_retry=on_retry)
        self._phase("verifying")
        for name, info in targets.files.items():  # again, on the finished files, right before use
            path = dl / name
            if path.stat().st_size != info.length or sha256_file(path) != info.sha256:
                path.unlink(missing_ok=True)
                raise UpdateRefused("bad_hash", f"{name}: differs from the signed manifest")
        unexpected = {p.name for p in dl.iterdir()} - set(targets.files)
        for name in unexpected:  # only signed files may reach pip's --find-links
            (dl / name).unlink(missing_ok=True)
        self._phase("installing")
        slot = self.inactive_slot()
        install_slot(slot, dl, targets.requirement, python=cfg.python,
                     system_site_packages=cfg.system_site_packages, shared=list(cfg.shared_site_packages))
        self._phase("installed", target=str(slot))
        return targets, slot

    def _check_space(self, targets: Targets) -> None:
        """Downloads plus an installed slot (wheels unpack to ~4x) must leave the
        store its own floor (``storage.min_free_mb``): an update never takes
        the space incidents need."""
        size_mb = sum(f.length for f in targets.files.values()) / 1e6
        need = size_mb * 5 + self.a.cfg.storage.min_free_mb
        self.root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.root).free / 1e6
        if free < need:
            from firmware.agent.updsig import UpdateRefused

            raise UpdateRefused("no_space", f"ruang kurang / {free:.0f} MB free, {need:.0f} MB needed "
                                            f"(bundle {size_mb:.1f} MB + storage.min_free_mb)")

    def inactive_slot(self) -> Path:
        running = Path(sys.prefix).resolve()
        a, b = (self.root / "slots" / "a").resolve(), (self.root / "slots" / "b").resolve()
        return b if running == a else a

    # -- main loop ---------------------------------------------------------

    def on_ready(self, targets: Targets, slot: Path) -> None:
        self._ready = (targets, slot)
        self._next_check = 0.0

    def blocker(self, targets: Targets) -> str | None:
        """Why the switch must wait now, or None."""
        call = self.a.modem.call_state
        if call not in (None, "idle", "ended"):
            return f"panggilan berlangsung / call in progress ({call})"
        if targets.store_compat != STORE_COMPAT and self.a.store.outbox_depth() > 0:
            return (f"format penyimpanan berubah / store format {STORE_COMPAT} -> {targets.store_compat} "
                    f"with {self.a.store.outbox_depth()} undelivered record(s)")
        return None

    def tick(self, now: float) -> None:
        if now < self._next_check:
            return
        self._next_check = now + 1.0
        if self._ready is not None:
            self._try_switch(*self._ready)
        elif self._trial_deadline is not None:
            self._check_trial(now)

    def _try_switch(self, targets: Targets, slot: Path) -> None:
        why = self.blocker(targets)
        if why:
            if self.state.get("error") != why:
                log.info("Pembaruan menunggu / update waits: %s", why)
                self._save(error=why)
            return
        self._ready = None
        previous = str(bg.current_target(self.root) or Path(sys.prefix).resolve())
        self._phase("switching", target=str(slot), previous=str(previous), previous_version=self.a.version,
                    deadline=time.time() + self.cfg.confirm_s, attempts=0,
                    max_attempts=self.cfg.max_attempts, error=None, logged=False)
        bg.point_current(self.root, slot)
        if self.cfg.test_pause_s:
            time.sleep(self.cfg.test_pause_s)
        self.a.event("update_switch", {"version": targets.version, "slot": str(slot)})
        log.warning("Beralih ke / switching to %s (%s): restarting", targets.version, slot)
        self.a.request_stop(self.a.cfg.restart_exit_code)

    def _check_trial(self, now: float) -> None:
        a = self.a
        assert self._trial_deadline is not None
        problem = None
        if not a.link.connected:
            problem = "tidak terhubung ke broker / not connected to the broker"
        elif not a.store.writable():
            problem = "penyimpanan tidak bisa ditulis / store not writable"
        else:
            res = a.self_test(SelfTestTrigger.UPDATE)
            if not res.get("ok"):
                problem = "uji mandiri gagal / self-test failed: " + ", ".join(a.health.self_test_faults)
        if problem is None:
            if self.cfg.test_pause_s:
                time.sleep(self.cfg.test_pause_s)
            self._trial_deadline = None
            self._save(phase="confirmed", error=None, at=time.time())
            a.event("update_confirmed", {"version": a.version})
            log.info("Pembaruan dikonfirmasi / update %s confirmed", a.version)
            return
        retry = SELF_TEST_EVERY_S if a.link.connected else 1.0
        self._next_check = min(now + retry, max(self._trial_deadline, now + 0.5))
        if now >= self._trial_deadline:
            self._trial_deadline = None
            self.state = bg.roll_back(self.root, self.state, f"{problem} after {self.cfg.confirm_s:g}s")
            a.event("update_rolled_back", {"version": a.version, "error": problem}, level="ERROR")
            log.error("Kembali ke versi lama / rolling back %s: %s", a.version, problem)
            a.request_stop(a.cfg.restart_exit_code)
