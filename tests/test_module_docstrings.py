"""WHAT: the house rule on module docstrings, checked for every module of the project's packages.
WHY: a module's docstring is its map; a long one stops being read, and a measured figure in it goes stale
     unseen (figures live in docs/benchmarks.md and docs/evaluation.md, with the commit they were taken at).
HOW: `docstring_problems` reads a module's docstring: it must start with "WHAT:", then have a "WHY:" and a
     "HOW:" line in that order (light modules, see `is_light`: "WHAT:" alone, one line is enough), be at most
     8 lines, and match none of MEASUREMENT_PATTERNS: decimals or ranges with a time unit, percentages,
     approximate figures, rates per second, speed-ups, counts of a run. Design constants ("15 s", "256
     connections", "a budget of 5 ms") pass. Migrations are not checked.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("marketplace", "llm", "health", "negotiations", "web", "bench")
MAX_LINES = 8
# Modules whose role their name already says: a package marker, an AppConfig, a URL map, an admin
# registration, a management command (its `help` says the rest). One "WHAT:" line is enough for them.
LIGHT_NAMES = {"__init__.py", "apps.py", "urls.py", "admin.py"}

_NUM = r"\d+(?:[.,]\d+)?"
_TIME = r"(?:ns|us|µs|μs|ms|s|secs?|seconds?|milliseconds?|microseconds?|minutes?)"
_APPROX = r"(?:\b(?:about|around|roughly|nearly|almost|approximately|measured(?:\s+at)?)\s+|~\s*|≈\s*)"
_THINGS = r"(?:turns|streams|tokens|requests|req|events|negotiations|messages|calls|chunks|viewers)"
# What a measurement looks like in prose. A design constant is a round number with its unit ("15 s",
# "100 ms", "256 connections"); a measurement has decimals, a range, a share, a hedge, a rate or a ratio.
MEASUREMENT_PATTERNS = {
    "decimal with a time unit": rf"\b\d+\.\d+\s*{_TIME}\b",
    "range with a time unit": rf"\b{_NUM}\s*(?:-|–|to)\s*{_NUM}\s*{_TIME}\b",
    "percentage": rf"\b{_NUM}\s*(?:%|percent\b)",
    "approximate figure": rf"{_APPROX}(?:{_NUM}\s*|(?:an?|one|half\s+an?)\s+)(?:{_TIME}|[kKMG]B|x|×|times|{_THINGS})\b",
    "approximate share": rf"{_APPROX}(?:an?|one)\s+(?:half|third|quarter|fifth|tenth)\b",
    "rate per second": rf"\b{_NUM}\s*k?\s*{_THINGS}\s*(?:/\s*s\b|per\s+second\b)",
    "speed-up": rf"\b{_NUM}\s*(?:x|×|times)\s+(?:faster|slower|cheaper|quicker|more|less|fewer)\b",
    "count of a run": r"\b\d+\s+(?:of|out\s+of)\s+(?:the\s+)?\d+\b",
    "statistic": rf"\b(?:median|mean|average|p50|p90|p95|p99)\s+(?:is|was|of|=|:)\s*{_NUM}",
}


def project_modules() -> list[Path]:
    paths = []
    for package in PACKAGES:
        if (ROOT / package).is_dir():
            paths.extend(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)
    return sorted(paths)


def is_light(path: Path) -> bool:
    parts = path.parts
    in_commands = len(parts) >= 3 and parts[-3:-1] == ("management", "commands")
    return path.name in LIGHT_NAMES or in_commands


def docstring_problems(source: str, *, light: bool = False) -> list[str]:
    """What in this module source breaks the house rule (an empty list: nothing)."""
    doc = ast.get_docstring(ast.parse(source), clean=True)
    if not doc:
        return ["no module docstring"]
    problems = []
    lines = doc.splitlines()
    if len(lines) > MAX_LINES:
        problems.append(f"{len(lines)} lines (at most {MAX_LINES})")
    if not doc.startswith("WHAT:"):
        problems.append('does not start with "WHAT:"')
    if not light:
        why = re.search(r"^\s*WHY:", doc, re.MULTILINE)
        how = re.search(r"^\s*HOW:", doc, re.MULTILINE)
        if not why:
            problems.append('no "WHY:" line')
        if not how:
            problems.append('no "HOW:" line')
        if why and how and how.start() < why.start():
            problems.append('"HOW:" before "WHY:"')
    for name, pattern in MEASUREMENT_PATTERNS.items():
        found = re.search(pattern, doc, re.IGNORECASE)
        if found:
            problems.append(f"measured figure ({name}): {found.group(0)!r}")
    return problems


def test_every_module_docstring_follows_the_house_rule():
    offenders = {}
    for path in project_modules():
        problems = docstring_problems(path.read_text(), light=is_light(path))
        if problems:
            offenders[path.relative_to(ROOT).as_posix()] = problems
    listing = "\n".join(f"  {path}: {'; '.join(problems)}" for path, problems in offenders.items())
    assert not offenders, f"{len(offenders)} module docstrings break the house rule:\n{listing}"


def test_the_checker_flags_a_bad_docstring():
    bad = '"""The relay.\n\nIt is fast: measured 2.1 ms per stream.\n' + "more\n" * 7 + '"""\nx = 1\n'
    problems = docstring_problems(bad)
    assert problems[:4] == ["10 lines (at most 8)", 'does not start with "WHAT:"', 'no "WHY:" line', 'no "HOW:" line']
    assert "measured figure (decimal with a time unit): '2.1 ms'" in problems
    assert docstring_problems("x = 1\n") == ["no module docstring"]
    assert docstring_problems('"""WHAT: x.\nHOW: y.\nWHY: z."""') == ['"HOW:" before "WHY:"']


def test_the_checker_passes_a_good_docstring_and_light_modules():
    good = (
        '"""WHAT: the pool.\nWHY: a budget of 5 ms per stream, at most 256 connections, 2 * max_rounds turns.\n'
        'HOW: probes idle connections every 15 s; "1.2k" and "$1,200" are prices; httpcore 1.0.9\'s pool."""\n'
    )
    assert docstring_problems(good) == []
    assert docstring_problems('"""WHAT: URL routes of the app."""\n', light=True) == []
    assert is_light(Path("llm/management/commands/serve_local_llm.py")) and is_light(Path("llm/urls.py"))
    assert not is_light(Path("llm/views.py"))


@pytest.mark.parametrize(
    "text",
    [
        "each hop about 60-90 us of CPU",
        "0.45 ms of CPU per request",
        "548 turns/s on SQLite",
        "at least 180 streams/s",
        "the 75.8 % deal rate",
        "3x faster than httpx",
        "spends about 55 ms CPU",
        "about a millisecond of CPU",
        "about a third of the gateway's CPU",
        "true for 71 of the 91 scenarios",
        "humans' median is 0.21",
    ],
)
def test_the_checker_flags_measured_figures(text):
    problems = docstring_problems(f'"""WHAT: x.\nWHY: {text}.\nHOW: z."""\n')
    assert any(p.startswith("measured figure") for p in problems), text
