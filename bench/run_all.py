"""Run every benchmark script in bench/ in turn; each prints its own numbers.

Benchmarks measure, they do not pass or fail: speed and memory targets live
here, never in timed tests. The longest is ``dashboard_load.py`` (seeds
20,000 and 200,000 cases, 3 minutes of load each: about 10 minutes).
``surge.py`` runs here scaled down (200 units, 20,000 cases, 500 presses; four
runs: SQLite and PostgreSQL, one and two gateways, about 6 minutes); the issue's
full size (1,000 units, 100,000 cases, 2,000 presses in 60 s) is
``.venv/bin/python bench/surge.py`` on its own. ``dashboard_year.py`` runs
here with 200,000 cases (its default, a year of a province at 1,000,000,
seeds for several minutes per database): ``.venv/bin/python
bench/dashboard_year.py`` on its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: arguments per script where the default size would make ``make bench`` too long
ARGS = {"surge.py": ["--units", "200", "--history", "20000", "--presses", "500"],
        "dashboard_year.py": ["--cases", "200000", "--repeat", "1"]}


def main() -> int:
    here = Path(__file__).parent
    scripts = sorted(p for p in here.glob("*.py") if p.name != Path(__file__).name
                     and not p.name.startswith("_"))
    failed = []
    for i, script in enumerate(scripts, 1):
        print(f"== [{i}/{len(scripts)}] {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script), *ARGS.get(script.name, [])],
                          check=False).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"Gagal / failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
