"""Write ``bench/baselines/model_v1.json``: the figures of the model before v2 (v1, a
frozen MiniLM with a linear head), which ``make model`` no longer builds.

    python -m bench.baselines.v1_baseline --v1-model models/sentiment-flair-v1

Two comparisons are fair to both models; a third one is not, and is not used:

- **own held-out splits**: each model on the per-source test split it never saw (v1's
  from its ``metadata.json``, v2's from its build). Same sources, same split sizes,
  different texts: two unbiased estimates.
- **texts neither saw**: the texts of v2's test splits that were in neither v1's
  training nor its dev split, found by re-drawing v1's splits with the data code of
  commit 5d669b8 (read with ``git show``). Few texts in the VADER sets: v1 trained on
  most of them.
- v1 on v2's whole test splits would score v1 on texts it trained on (89-93 % of the
  VADER test texts were in its training data).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from moodstream_analyzer.flair_model import FlairSentimentModel
from moodstream_model import build, evaluation, training
from moodstream_model.data import LEFT_OUT, text_key, training_splits

V1_COMMIT = "5d669b8"
V1_DATA = "services/analyzer/moodstream_analyzer/data.py"
OUT = Path(__file__).parent / "model_v1.json"


def key_digest(text: str) -> str:
    """A short, stable name for a text (by :func:`text_key`), to store subsets."""
    return hashlib.sha256(text_key(text).encode()).hexdigest()[:16]


def _v1_seen() -> set[str]:
    source = subprocess.run(  # noqa: S603  # fixed arguments
        ["git", "show", f"{V1_COMMIT}:{V1_DATA}"],  # noqa: S607
        capture_output=True, text=True, check=True,
    ).stdout
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "v1_data.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("v1_data", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["v1_data"] = module
        spec.loader.exec_module(module)
    splits = module.training_splits(seed=13, max_train_per_corpus=8_000)
    return {text_key(e.text) for e in splits.train + splits.dev}


def main(argv: Sequence[str] | None = None) -> int:
    """Measure v1 and write the baseline file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--v1-model", type=Path, required=True)
    args = parser.parse_args(argv)
    model = FlairSentimentModel(args.v1_model)
    model.load()
    scorer = evaluation.model_scorer(model)
    own = {
        name: {"macro_f1": round(figures["macro_f1"], 4), "n": figures["n"]}
        for name, figures in model.metadata.extra["metrics"].items()
        if name.startswith("test:")
    }
    settings = training.TrainingSettings()
    splits = training_splits(seed=settings.seed, max_train_per_corpus=settings.max_train_per_corpus)
    sets = build.evaluation_sets(splits.test)
    # v1 never trained on Rotten Tomatoes: its whole set is held out from v1 as well.
    transfer = evaluation.evaluate(scorer, sets[build.TRANSFER_SET],
                                   build.labels_of(build.TRANSFER_SET))[0]
    own[build.TRANSFER_SET] = {"macro_f1": transfer["macro_f1"], "n": transfer["n"]}
    seen = _v1_seen()
    neither = {}
    for name, examples in sets.items():
        if name in LEFT_OUT:
            continue
        fair = [e for e in examples if text_key(e.text) not in seen]
        figures = evaluation.evaluate(scorer, fair, build.labels_of(name))[0]
        neither[name] = {"v1_macro_f1": figures["macro_f1"], "n": len(fair),
                         "of": len(examples), "texts": sorted(key_digest(e.text) for e in fair)}
    OUT.write_text(json.dumps({
        "model": {"name": model.name, "version": model.version, "created":
                  model.metadata.created},
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "how": f"python -m bench.baselines.v1_baseline --v1-model <v1 dir> (data code of "
               f"{V1_COMMIT})",
        "own_held_out": own,
        "texts_neither_saw": neither,
    }, indent=1) + "\n")
    print(json.dumps(own), {k: (v["n"], v["v1_macro_f1"]) for k, v in neither.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
