"""Reproducible installs: constraints.txt pins every package of the complete environment (indirect
dependencies too), agrees with every pin of the three requirement files, and every pip install of the
Makefile is constrained by it (so runtime, dev and local-model installs can never move each other's
versions)."""

import importlib.metadata
import re
from pathlib import Path

import pytest
from django.conf import settings
from packaging.requirements import Requirement

ROOT = Path(settings.BASE_DIR)
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-local-llm.txt")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file, by canonical name (includes and comments skipped)."""
    result = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: {line} is not pinned with =="
        result[canonical(requirement.name)] = specifier.version
    return result


@pytest.mark.parametrize("name", REQUIREMENT_FILES)
def test_every_pin_agrees_with_the_constraints(name):
    constraints = pins(ROOT / "constraints.txt")
    for package, version in pins(ROOT / name).items():
        assert constraints.get(package) == version, (
            f"{name}: {package}=={version}, constraints.txt says {constraints.get(package)}"
        )


def test_constraints_pin_every_indirect_dependency_of_the_requirements():
    constraints = pins(ROOT / "constraints.txt")
    pending = [
        Requirement(f"{name}") for file in ("requirements.txt", "requirements-dev.txt") for name in pins(ROOT / file)
    ]
    pending += [
        Requirement(line.split("#", 1)[0].strip())
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "[" in line.split("#", 1)[0]
    ]  # extras, e.g. psycopg[binary]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement = pending.pop()
        key = (canonical(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        assert key[0] in constraints, f"{requirement.name} is installed but not pinned in constraints.txt"
        for text in importlib.metadata.requires(requirement.name) or []:
            dependency = Requirement(text)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": extra}) for extra in extras):
                pending.append(dependency)
    assert len(seen) > 40  # the walk reached the indirect dependencies (twisted, autobahn, certifi, ...)


def test_every_pip_install_of_the_makefile_is_constrained():
    makefile = (ROOT / "Makefile").read_text()
    assert "PIP_INSTALL := $(PIP) install -c constraints.txt" in makefile
    recipe_lines = [line.strip() for line in makefile.splitlines() if line.startswith("\t")]
    installs = [
        line for line in recipe_lines if "$(PIP_INSTALL)" in line or "pip install" in line.replace("$(PIP)", "pip")
    ]
    unconstrained = [
        line for line in installs if not line.startswith("$(PIP_INSTALL)") and ".venv-constraints" not in line
    ]  # `make constraints` resolves them afresh
    assert len(installs) >= 3 and unconstrained == [], installs
