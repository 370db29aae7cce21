"""Run docs/install.md's shell steps against a temporary root.

The steps are read from the page (the ```sh block whose first line is
``# steps: <name>``), so the guide cannot drift from what the test runs. Each
line is run as written, with only these mechanical changes, because the test
machine is not the live host:

* ``sudo`` and ``sudo -u USER`` are dropped (the suite runs as root; the
  users the installer makes exist only inside the temporary root);
* absolute paths under ``/etc``, ``/var``, ``/run`` get the root prefixed;
* ``/opt/siaga/venv/bin/siaga`` is this checkout's ``python -m siaga``;
* ``./deploy/install.sh`` gets ``--root ROOT`` (it then skips apt, pip and
  systemctl and prints each as skipped);
* ``apt-get`` is not run: :meth:`Host.apt_mosquitto` does what Debian's
  package does that later steps rely on (``/var/lib/mosquitto``);
* ``systemctl restart UNIT...`` starts each unit the way systemd would, from
  its unit file and drop-ins (Debian's ``mosquitto.service`` from the host,
  ours from the root): ``ExecStartPre`` lines, ``LoadCredential=``,
  ``WorkingDirectory=``, ``ExecStart``, as root.

Any other command is an error naming it: teach this module, do not skip it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.units import REPO

DOC = REPO / "docs" / "install.md"
DEBIAN_UNITS = (Path("/lib/systemd/system"), Path("/usr/lib/systemd/system"))


def doc_steps(name: str, doc: Path = DOC) -> list[str]:
    """The command lines of the ```sh block starting with ``# steps: name``."""
    for block in re.findall(r"```sh\n(.*?)```", doc.read_text(), re.S):
        lines = block.splitlines()
        if lines and lines[0].strip() == f"# steps: {name}":
            text = "\n".join(lines[1:]).replace("\\\n", " ")
            return [ln.split("  #")[0].strip() for ln in text.splitlines()
                    if ln.strip() and not ln.strip().startswith("#")]
    raise AssertionError(f"{doc} has no ```sh block '# steps: {name}'")


def unit_file(text: str) -> dict[str, list[str]]:
    """``[Service]`` keys of a unit (plus drop-ins appended): key -> values,
    an empty value resetting the list as systemd does."""
    out: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            if value == "":
                out[key] = []
            else:
                out.setdefault(key, []).append(value)
    return out


@dataclass
class Host:
    """The gateway host under ``root``; ``cwd`` holds the operator's files."""

    root: Path
    cwd: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)

    def path(self, p: str) -> str:
        return str(self.root) + p if p.startswith(("/etc/", "/var/", "/run/")) else p

    def argv(self, tokens: list[str]) -> list[str]:
        if tokens[0] == "/opt/siaga/venv/bin/siaga":
            tokens = [sys.executable, "-m", "siaga", *tokens[1:]]
        return [self.path(t) for t in tokens]

    def run(self, line: str) -> subprocess.CompletedProcess[str] | None:
        self.ran.append(line)
        tokens = shlex.split(line)
        if tokens[0] == "sudo":
            tokens = tokens[3:] if tokens[1] == "-u" else tokens[1:]
        if tokens[0] == "apt-get":
            return None
        if tokens[0] == "systemctl" and tokens[1] == "restart":
            for unit in tokens[2:]:
                self.restart(unit)
            return None
        if tokens[0] == "./deploy/install.sh":
            argv = ["bash", str(REPO / "deploy" / "install.sh"), *tokens[1:], "--root", str(self.root)]
        elif tokens[0] in ("install", "/opt/siaga/venv/bin/siaga"):
            argv = self.argv(tokens)
        else:
            raise AssertionError(f"tests/deploy/guide.py cannot run {line!r} yet: teach it")
        r = subprocess.run(argv, cwd=self.cwd, capture_output=True, text=True, timeout=180,
                           env=dict(os.environ, PYTHONPATH=str(REPO)))
        assert r.returncode == 0, f"{line}\n{r.stdout}\n{r.stderr}"
        return r

    def apt_mosquitto(self) -> None:
        """What Debian's mosquitto package leaves that the steps rely on."""
        import pwd

        pw = pwd.getpwnam("mosquitto")
        d = self.root / "var/lib/mosquitto"
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, pw.pw_uid, pw.pw_gid)
        (self.root / "etc/mosquitto").mkdir(parents=True, exist_ok=True)

    def service(self, unit: str) -> dict[str, list[str]]:
        texts = []
        ours = self.root / "etc/systemd/system" / f"{unit}.service"
        debian = next((d / f"{unit}.service" for d in DEBIAN_UNITS if (d / f"{unit}.service").exists()),
                      None)
        base = ours if ours.exists() else debian
        assert base is not None, f"no unit file for {unit}"
        texts.append(base.read_text())
        dropins = self.root / "etc/systemd/system" / f"{unit}.service.d"
        texts += [p.read_text() for p in sorted(dropins.glob("*.conf"))] if dropins.is_dir() else []
        return unit_file("\n".join(texts))

    def restart(self, unit: str) -> None:
        self.stop(unit)
        svc = self.service(unit)
        for pre in svc.get("ExecStartPre", []):
            subprocess.run(self.argv(shlex.split(pre)), check=True, timeout=30)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        creds = svc.get("LoadCredential", [])
        if creds:
            cdir = self.root / "run/credentials" / f"{unit}.service"
            shutil.rmtree(cdir, ignore_errors=True)
            cdir.mkdir(parents=True, mode=0o700)
            for c in creds:
                name, _, src = c.partition(":")
                s = Path(self.path(src))
                for f in (sorted(s.iterdir()) if s.is_dir() else [s]):
                    shutil.copy(f, cdir / (f"{name}_{f.name}" if s.is_dir() else name))
            env["CREDENTIALS_DIRECTORY"] = str(cdir)
        wd = svc.get("WorkingDirectory", [None])[-1]
        log = (self.cwd / f"{unit}.log").open("ab")
        self.procs[unit] = subprocess.Popen(self.argv(shlex.split(svc["ExecStart"][-1])), env=env,
                                            cwd=self.path(wd) if wd else self.cwd, stdout=log,
                                            stderr=subprocess.STDOUT)

    def log(self, unit: str) -> str:
        p = self.cwd / f"{unit}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def wait_log(self, unit: str, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(unit):
            proc = self.procs[unit]
            if proc.poll() is not None:
                raise AssertionError(f"{unit} exited {proc.returncode}:\n{self.log(unit)[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{unit}: no {text!r} within {timeout}s:\n{self.log(unit)[-3000:]}")
            time.sleep(0.1)

    def stop(self, unit: str) -> None:
        proc = self.procs.pop(unit, None)
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for unit in list(self.procs):
            with contextlib.suppress(Exception):
                self.stop(unit)
