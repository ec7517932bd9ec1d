"""Is the project's virtual environment ready? scripts/setup runs this with ``.venv/bin/python``.

    .venv/bin/python scripts/venv_ready.py ROOT [EXTRA ...]

Exit 0 when tornio is installed editable from the checkout ROOT, by its current build
configuration (``tornio`` is ROOT/tornio, ``tornio.workers`` is ROOT/workers, the console
scripts are pyproject.toml's), and every requirement of tornio and of the extras named is met.
Else exit 1, after one line saying what is missing (pip then installs). Only the standard
library and pip's vendored packages are used: nothing else may be installed yet.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10
    from pip._vendor import tomli as tomllib
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement


def missing(root: Path, extras: list[str]) -> str | None:
    """What is not in place, or None."""
    try:
        dist = metadata.distribution("tornio")
    except metadata.PackageNotFoundError:
        return "tornio is not installed"
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    url = str(direct.get("url", ""))
    if not direct.get("dir_info", {}).get("editable") or \
            Path(url.removeprefix("file://")).resolve() != root:
        return "tornio is not installed editable from this checkout"
    project: dict[str, Any] = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    scripts = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
    if scripts != project.get("scripts", {}):
        return f"console scripts {scripts} are not pyproject.toml's"
    wanted = list(project["dependencies"])
    for extra in extras:
        if extra not in project["optional-dependencies"]:
            return f"no extra {extra!r} in pyproject.toml"
        wanted += project["optional-dependencies"][extra]
    for line in wanted:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            return f"{req.name} is not installed"
        if not req.specifier.contains(version, prereleases=True):
            return f"{req.name} {version} does not meet {req}"
    for module, path in (("tornio", "tornio"), ("tornio.workers", "workers")):
        try:
            spec = importlib.util.find_spec(module)
        except ImportError as error:
            return f"{module} does not import: {error}"
        origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
        if origin != root / path / "__init__.py":
            return f"{module} is {origin}, not this checkout's {path}/"
    return None


def main(argv: list[str]) -> int:
    root = Path(argv[0]).resolve()
    # Installed distributions only: not the checkout (its tornio/, its tornio.egg-info).
    sys.path = [p for p in sys.path if p and Path(p).resolve() not in (root, root / "scripts")]
    problem = missing(root, argv[1:])
    if problem is not None:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
