"""The analyzer serves the ONNX model with torch, flair and transformers absent, as in
its runtime image (which installs services/analyzer/requirements.txt only)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.unit.analyzer.test_model import MODEL_DIR

BLOCKED = ("torch", "flair", "transformers", "onnx")

SCRIPT = textwrap.dedent(
    """
    import sys

    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ImportError(f"{{name}} is not in the analyzer's runtime image")
            return None

    sys.meta_path.insert(0, Blocked())
    from moodstream_analyzer import agents, views  # the service's modules, app included
    from moodstream_analyzer.model import load_model

    model = load_model({model_dir!r}, backend="onnx")
    labels = [p.label for p in model.predict_batch(["I love it, thank you!", "I hate this"])]
    print("labels", *labels)
    print("loaded", *sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r}))
    from moodstream_analyzer.model import ModelUnavailable
    try:
        load_model({model_dir!r}, backend="flair")
    except ModelUnavailable as exc:
        print("flair", str(exc).replace(chr(10), " "))
    """
)


def test_the_onnx_backend_needs_no_torch() -> None:
    script = SCRIPT.format(blocked=BLOCKED, model_dir=str(MODEL_DIR))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) if " " in line else (line, "")
                 for line in done.stdout.splitlines())
    assert lines["labels"] == "positive negative"
    assert lines["loaded"] == ""
    # Without torch the flair backend is one clear error with the fix, not a crash.
    assert "ANALYZER_BACKEND=onnx" in lines["flair"]
