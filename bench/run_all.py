"""Run every benchmark script in bench/ in turn; each prints its own numbers.

Benchmarks measure, they do not pass or fail: speed and memory targets live
here, never in timed tests. The longest is ``dashboard_load.py`` (seeds
20,000 and 200,000 cases, 3 minutes of load each: about 10 minutes).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    scripts = sorted(p for p in here.glob("*.py") if p.name != Path(__file__).name
                     and not p.name.startswith("_"))
    failed = []
    for i, script in enumerate(scripts, 1):
        print(f"== [{i}/{len(scripts)}] {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"Gagal / failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
