"""What each service image needs installed, computed from the installed lock.

    python -m moodstream_dev.requirements ingest analyzer aggregator
    # rewrites services/<name>/requirements.txt

Each runtime image installs only what its service imports (:func:`runtime_packages`:
pyproject's ``dependencies`` plus the service's optional-dependency group): no service
needs torch, flair or transformers at run time (the analyzer's ONNX backend runs
without them; only ``make model``, the analyzer image's build stage, needs them), and
only the analyzer needs ONNX Runtime. The pinned list is the dependency closure of the
service's top-level packages at the versions installed from ``requirements.lock``, so
it can never pin another version than ``make test`` ran.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Iterable, Sequence
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]

SERVICES = ("ingest", "analyzer", "aggregator")


def runtime_packages(service: str) -> tuple[str, ...]:
    """Top-level packages ``service`` imports at run time: pyproject's ``dependencies``
    (libs/common) plus the optional-dependency group named after the service."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")
    wanted = [*project["dependencies"], *project["optional-dependencies"][service]]
    return tuple(Requirement(line).name for line in wanted)


def header(service: str) -> str:
    """The comment on top of ``service``'s requirements file."""
    return (
        f"# The {service} image's runtime packages: the closure of pyproject's dependencies"
        f" and its\n# [{service}] group at requirements.lock's versions. Regenerate with "
        f"`python -m moodstream_dev.requirements {service}`.\n"
    )


def canonical(name: str) -> str:
    """A distribution name as pip compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(names: Iterable[str]) -> dict[str, str]:
    """Every installed distribution ``names`` need, transitively: canonical name -> version.

    Requirements behind an extra are left out; environment markers are evaluated here.
    """
    pending = [canonical(n) for n in names]
    found: dict[str, str] = {}
    while pending:
        name = pending.pop()
        if name in found:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError as exc:
            raise SystemExit(f"{name} is not installed: run `make install`") from exc
        found[name] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            pending.append(canonical(requirement.name))
    return dict(sorted(found.items()))


def installed_bytes(names: Iterable[str]) -> int:
    """Bytes on disk of the installed files of the distributions ``names``."""
    total = 0
    for name in names:
        for file in distribution(name).files or []:
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total


def requirements_text(service: str) -> str:
    """The pinned requirements file for ``service``'s runtime image."""
    pins = closure(runtime_packages(service))
    return header(service) + "".join(f"{name}=={version}\n" for name, version in pins.items())


def requirements_path(service: str) -> Path:
    """Where ``service``'s runtime requirements file lives."""
    return ROOT / "services" / service / "requirements.txt"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the runtime requirements file of each named service."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("services", nargs="+", choices=SERVICES)
    args = parser.parse_args(argv)
    for service in args.services:
        path = requirements_path(service)
        path.write_text(requirements_text(service), encoding="utf-8")
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
