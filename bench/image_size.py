"""Each service image's installed packages, and the analyzer image before and after its
ONNX runtime stage, counted from the installed packages (no Docker engine needed).

    python -m bench.image_size

Before: the runtime stage copied the whole locked environment (``requirements.lock`` and
``requirements-nodeps.txt``: torch, flair, transformers, ...) and the whole model
directory (flair weights included). After: only the closure of the analyzer's runtime
packages (``services/analyzer/requirements.txt``, see :mod:`moodstream_dev.requirements`)
and the files the ONNX backend reads. Sizes are the installed files' bytes in this
``.venv``; the base image and the service's own code are the same on both sides.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import table, write_result
from moodstream_analyzer.model import DEFAULT_MODEL_DIR, METADATA_FILE, ModelMetadata
from moodstream_dev.requirements import (
    ROOT,
    SERVICES,
    canonical,
    closure,
    installed_bytes,
    runtime_packages,
)


def _pinned(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            names.append(canonical(line.split("==", 1)[0].split(";", 1)[0].strip()))
    return names


def main() -> int:
    """Count, print, write ``bench/results/image_size.json``."""
    locked = sorted(set(_pinned(ROOT / "requirements.lock"))
                    | set(_pinned(ROOT / "requirements-nodeps.txt")))
    runtime = sorted(closure(runtime_packages("analyzer")))
    model_dir = ROOT / DEFAULT_MODEL_DIR
    metadata = ModelMetadata.read(model_dir)
    export = metadata.extra["onnx"]
    every_model_file = sum(p.stat().st_size for p in model_dir.iterdir() if p.is_file())
    served = sum((model_dir / name).stat().st_size
                 for name in (export["file"], export["tokenizer"], METADATA_FILE))
    before = {"packages": len(locked), "package_bytes": installed_bytes(locked),
              "model_bytes": every_model_file}
    after = {"packages": len(runtime), "package_bytes": installed_bytes(runtime),
             "model_bytes": served}
    for side in (before, after):
        side["total_mb"] = round((side["package_bytes"] + side["model_bytes"]) / 1e6, 1)
    heavy = {"torch", "flair", "transformers"}
    print(table(
        [("before (whole lock, whole model)", before["packages"],
          round(before["package_bytes"] / 1e6, 1), round(before["model_bytes"] / 1e6, 1),
          before["total_mb"]),
         ("after (ONNX runtime stage)", after["packages"], round(after["package_bytes"] / 1e6, 1),
          round(after["model_bytes"] / 1e6, 1), after["total_mb"])],
        ("analyzer image", "packages", "packages MB", "model MB", "total MB"),
    ))
    ratio = round(after["total_mb"] / before["total_mb"], 3)
    print(f"after ÷ before: {ratio}; torch/flair/transformers in the runtime stage: "
          f"{sorted(heavy & set(runtime)) or 'none'}")
    images = {}
    for service in SERVICES:
        packages = sorted(closure(runtime_packages(service)))
        images[service] = {"packages": len(packages),
                           "package_mb": round(installed_bytes(packages) / 1e6, 1),
                           "heavy": sorted(heavy & set(packages))}
    whole_lock_mb = round(before["package_bytes"] / 1e6, 1)
    print(table(
        [(service, image["packages"], image["package_mb"],
          round(image["package_mb"] / whole_lock_mb, 3), ", ".join(image["heavy"]) or "none")
         for service, image in images.items()]
        + [("(whole lock, as every image had)", before["packages"], whole_lock_mb, 1.0,
            ", ".join(sorted(heavy & set(locked))))],
        ("image", "packages", "packages MB", "÷ whole lock", "torch/flair/transformers"),
    ))
    write_result("image_size", {"before": before, "after": after, "after_over_before": ratio,
                                "runtime_packages": runtime, "images": images,
                                "whole_lock_package_mb": whole_lock_mb})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
