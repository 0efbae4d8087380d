"""WHAT: `python -m bench` (what `make bench` runs): every benchmark module present in bench/, one after
the other, each in its own process.
WHY: benchmarks land one by one from different issues; the runner must not fail because one of them
     does not exist yet, and one benchmark's state (servers, event loops) must not leak into the next.
HOW: runs `python -m bench.<name>` for each known name whose module exists (`python -m bench relay`
     runs only the named ones; extra flags after `--` are passed on). Exit status: 1 if any failed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

BENCHMARKS = ("relay", "engine", "stream", "web_pages", "local_model")


def main(argv: list[str]) -> int:
    names, passthrough = argv, []
    if "--" in argv:
        names, passthrough = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names or BENCHMARKS:
        if importlib.util.find_spec(f"bench.{name}") is None:
            print(f"== bench.{name}: not written yet, skipped", flush=True)
            continue
        print(f"== bench.{name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}", *passthrough]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
