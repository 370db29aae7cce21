"""``siaga sim``: run the modem simulator for the demo or a bench test.

Imports nothing heavy at module level: the root CLI imports this on every
``siaga`` invocation.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Simulator perangkat keras / hardware simulators (GSM modem).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Simulator perangkat keras / hardware simulators."""


@app.command("modem")
def modem(
    pty: bool = typer.Option(False, "--pty", help="Buka pseudo-terminal / serve on a pseudo-terminal."),
    tcp: int | None = typer.Option(None, "--tcp", help="Port TCP / serve on this TCP port (0 = any)."),
    profile: str = typer.Option(
        "sim800", "--profile", help="sim800 | sim7600 | huawei | zte | phone | wavecom"),
    control: int | None = typer.Option(
        None, "--control", help="Port kendali baris / line control port on 127.0.0.1 (0 = any)."
    ),
    ring_interval: float = typer.Option(
        3.0, "--ring-interval", help="Detik antar RING / seconds between RINGs."
    ),
) -> None:
    """Jalankan modem tiruan / run a simulated GSM modem until Ctrl-C.

    Prints the device path (or socket URL) to open. Commands come on stdin
    and on the control port, one per line: call +628123, hangup, sms
    +628123 text, reg off, silent on, reboot, uv down, help.
    """
    import signal
    import sys
    import threading

    from firmware.sim.control import ControlServer, run_command
    from firmware.sim.simulator import ModemSimulator, SimulatorError

    if pty == (tcp is not None):
        typer.echo("Pilih satu: --pty atau --tcp PORT / choose one: --pty or --tcp PORT", err=True)
        raise typer.Exit(2)
    try:
        sim = ModemSimulator(profile, ring_interval=ring_interval)
    except SimulatorError as exc:
        typer.echo(f"Profil tidak sah / invalid profile: {exc}", err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()
    # before the path is printed (whoever reads it may stop us at once): SIGTERM
    # (systemd, demo scripts), and SIGINT also in the background, where a
    # non-interactive shell leaves it ignored
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    url = sim.start_pty() if pty else sim.start_tcp(port=tcp or 0)
    server = ControlServer(sim, port=control) if control is not None else None
    typer.echo(f"modem {profile}: {url}")
    if server is not None:
        typer.echo(f"control: {server.host}:{server.port}")
    sys.stdout.flush()

    def read_stdin() -> None:
        for line in sys.stdin:
            if line.strip() in ("quit", "exit"):
                stop.set()
                return
            typer.echo(run_command(sim, line))
        # EOF (e.g. started in the background): keep serving until Ctrl-C

    threading.Thread(target=read_stdin, daemon=True).start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.close()
        sim.stop()


@app.command("network")
def network(
    modem: list[str] = typer.Option(
        [], "--modem", help="NOMOR[=profil] modem di jaringan / a modem on the network (repeatable)."),
    control: int = typer.Option(0, "--control", help="Port kendali / control port on 127.0.0.1 (0 = any)."),
    sms_delay: float = typer.Option(0.5, "--sms-delay", help="Detik per SMS / seconds an SMS takes."),
    loss: float = typer.Option(0.0, "--loss", help="Bagian SMS hilang / share of SMS lost (0..1)."),
    seed: int | None = typer.Option(None, "--seed", help="Benih acak / random seed for loss."),
) -> None:
    """Jaringan GSM tiruan / run a simulated GSM network until Ctrl-C.

    Each --modem +62811... is served on its own TCP port (printed: give the
    socket:// URL to a unit's or the gateway's modem setting). The control
    port takes: modem, phone, sms <from> <to> <text>, call, coverage <number>
    on|off, delay, loss, inbox, at <number> <line>, state, help.
    """
    import signal
    import sys
    import threading

    from firmware.sim.control import ControlServer
    from firmware.sim.netcontrol import NetworkHost
    from firmware.sim.network import GsmNetwork

    host = NetworkHost(GsmNetwork(sms_delay_s=sms_delay, loss=loss, seed=seed))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        for spec in modem:
            number, _, profile = spec.partition("=")
            typer.echo(f"modem {number}: {host.modem(number, profile or 'sim800')}")
    except Exception as exc:
        typer.echo(f"Gagal / failed: {exc}", err=True)
        host.close()
        raise typer.Exit(2) from None
    server = ControlServer(None, port=control, handler=host.run)
    typer.echo(f"control: {server.host}:{server.port}")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
        host.close()
