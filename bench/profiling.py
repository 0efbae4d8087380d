"""WHAT: `PySpySampler`: py-spy sampling a benchmark's server process, then a summary of self and
inclusive time by function.
WHY: when a benchmark misses its target, the figures must say where the time goes; the relay and the
     stream benchmarks both profile their server the same way (`--profile`).
HOW: `py-spy record -f raw` (pip install py-spy) on the server's pid while the load runs; `stop()` ends it
     with SIGINT and prints the 30 heaviest functions both ways, in percent of the samples (wall time
     of busy threads). Line numbers are dropped so one function is one row.
"""

from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["PySpySampler"]

_TOP = 30


class PySpySampler:
    def __init__(self, pid: int, raw: Path) -> None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(py_spy).exists():
            raise SystemExit("--profile needs py-spy: pip install py-spy")
        self.raw = raw
        self.process = subprocess.Popen(
            [py_spy, "record", "-p", str(pid), "-o", str(raw), "-f", "raw", "-r", "500", "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self, title: str = "profile") -> None:
        """End the sampling and print its summary."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)
        own: collections.Counter[str] = collections.Counter()
        inclusive: collections.Counter[str] = collections.Counter()
        total = 0
        for line in self.raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
            total += int(count)
            own[frames[-1]] += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
        print(f"--- {title}: {total} samples (wall time of busy threads)")
        for name, counter in (("self", own), ("inclusive", inclusive)):
            print(f"--- {name}")
            for frame, count in counter.most_common(_TOP):
                print(f"{100 * count / max(total, 1):5.1f}%  {frame}")
