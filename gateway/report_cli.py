"""``siaga gateway report``: the monthly report written to files, with
progress lines and clear refusals (bad month, a month not begun yet,
an unreachable database, an unwritable file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer


def make_report(cfg, month: str, out: Path, csv_out: Path | None, *, say: Callable[[str], None],
                fail: Callable[[str], None]) -> None:
    from sqlalchemy.exc import OperationalError

    from gateway import kpi_board
    from gateway.clock import utcnow
    from gateway.kpi_period import PeriodError, PeriodKind, resolve
    from gateway.report_csv import render as render_csv
    from gateway.report_pdf import render
    from gateway.store.db import Database, safe_url

    now = utcnow()
    try:
        period = resolve(PeriodKind.MONTH, cfg.site.timezone, now, month=month)
    except PeriodError as exc:
        fail(str(exc))
        raise typer.Exit(2) from None
    if period.since > now:
        fail(f"bulan {month} belum dimulai / month {month} has not begun yet")
        raise typer.Exit(2)
    for path in (out, csv_out):
        if path is not None and not path.parent.resolve().is_dir():
            fail(f"folder tidak ada / no such folder: {path.parent}")
            raise typer.Exit(2)
    db = Database(cfg.gateway.database_url)
    say(f"Menghitung KPI / computing KPIs: {period.label} ({safe_url(db.url)})")
    try:
        with db.read_session() as s:
            board = kpi_board.compute(s, cfg, period)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        fail(f"Gagal membaca basis data / cannot read the database {safe_url(db.url)}: {reason}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    pdf = render(board, cfg.site.name, progress=lambda m: say("  " + m))
    try:
        out.write_bytes(pdf)
        if csv_out is not None:
            csv_out.write_text(render_csv(board), encoding="utf-8")
    except OSError as exc:
        fail(f"Gagal menulis / cannot write: {exc}")
        raise typer.Exit(1) from None
    say(f"Selesai / done: {out} ({len(pdf) // 1024} KiB, "
        f"{board.kpis.incidents} laporan / reports)" + (f"; CSV: {csv_out}" if csv_out else ""))
