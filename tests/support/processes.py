"""WHAT: helpers for tests that start and stop processes: is a pid alive, wait until it is gone.
WHY: "no orphan" is the property under test, so it must be checked on the real process table; a zombie
     (exited, not yet reaped) is not a running server and must count as gone.
HOW: /proc/<pid>/stat on Linux (state Z is a zombie), `os.kill(pid, 0)` elsewhere; polling with a
     generous deadline that only proves "no hang".
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

__all__ = ["descendant_pids", "port_accepts", "process_alive", "wait_until_gone"]


def process_alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            # The state letter follows the command name, which is in parentheses and may contain spaces.
            return stat.read_text().rpartition(")")[2].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def descendant_pids(pid: int) -> dict[int, str]:
    """Running descendants of `pid` (children, grandchildren...) with their command lines. Linux only."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


def wait_until_gone(pid: int, *, deadline_seconds: float = 15.0) -> bool:
    """True once `pid` no longer runs; False if it still runs after the deadline."""
    deadline = time.monotonic() + deadline_seconds
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def port_accepts(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at host:port right now."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
