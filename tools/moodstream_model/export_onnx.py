"""Export a trained flair sentiment model to ONNX with int8 weights.

:func:`export` writes ``model.onnx`` and ``tokenizer.json`` into the model directory and
returns the ``onnx`` block of its ``metadata.json`` (file hashes, output label order,
longest input, what was quantized); :class:`moodstream_analyzer.onnx_model.OnnxSentimentModel`
serves them without torch. ``make model`` runs it after training
(:mod:`moodstream_model.build`).

The graph is the flair classifier's own computation: the encoder, the mean of its last
hidden states over the real (unpadded) tokens, the linear head and a softmax. It is
quantized dynamically (onnxruntime ``quantize_dynamic``): int8 weights per output
channel for every MatMul with constant weights, activations quantized per call, with
three choices measured on the evaluation sets of a fine-tuned model (labels agreeing
with the float flair model; float ONNX agrees on 100 %):

- everything int8, embeddings included (22 MB): 95.5-97.9 % per set;
- ``reduce_range`` (7-bit weights: the x86 AVX2/AVX-512 int8 kernels without VNNI can
  saturate on full-range weights) and the six feed-forward output projections (the
  matrices after GELU, whose inputs have the largest outliers) kept in float
  (69 MB, the word embeddings stay float): 97.4-98.5 % per set, macro-F1 within 0.8
  points, at the same speed (18.1 s against 17.4 s for all the sets; float 31.5 s).

The second is what this exports. ``tests/unit/analyzer/test_parity.py`` checks every
built model against the flair model on every evaluation set, and ``metadata.json``
records the figures (``parity``).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from moodstream_analyzer.model import WEIGHTS_FILE, sha256_file, use_offline_hub
from moodstream_analyzer.onnx_model import ONNX_FILE, TOKENIZER_FILE

OPSET = 17


def feed_forward_outputs(graph: Any) -> list[str]:
    """The MatMul nodes of each layer's feed-forward output projection (kept in float)."""
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and "/output/dense/" in node.name
        and "attention" not in node.name
    ]


def export(model_dir: Path) -> dict[str, Any]:
    """Export ``model_dir``'s flair classifier; returns the ``onnx`` metadata block."""
    use_offline_hub()
    import onnx
    import torch
    from flair.models import TextClassifier
    from onnxruntime.quantization import QuantType, quantize_dynamic

    classifier = TextClassifier.load(model_dir / WEIGHTS_FILE)
    classifier.eval()
    embeddings = classifier.embeddings
    if getattr(embeddings, "cls_pooling", None) != "mean" or embeddings.layer_indexes != [-1]:
        raise ValueError("only mean pooling over the last layer is exported")
    labels = [classifier.label_dictionary.get_item_for_index(i) for i in range(3)]

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = embeddings.model
            self.head = classifier.decoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            return torch.softmax(self.head(pooled), dim=-1)

    sample = embeddings.tokenizer(["a first text", "a second"], padding=True, return_tensors="pt")
    with tempfile.TemporaryDirectory() as scratch:
        float_path = Path(scratch) / "float.onnx"
        torch.onnx.export(
            Classifier().eval(),
            (sample["input_ids"], sample["attention_mask"]),
            str(float_path),
            input_names=["input_ids", "attention_mask"],
            output_names=["probabilities"],
            dynamic_axes={
                "input_ids": {0: "texts", 1: "tokens"},
                "attention_mask": {0: "texts", 1: "tokens"},
                "probabilities": {0: "texts"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
        kept_float = feed_forward_outputs(onnx.load(str(float_path)).graph)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.WARNING)  # the quantizer logs a line per tensor at INFO
        try:
            quantize_dynamic(
                str(float_path),
                str(model_dir / ONNX_FILE),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=kept_float,
            )
        finally:
            root.setLevel(level)
    embeddings.tokenizer.backend_tokenizer.save(str(model_dir / TOKENIZER_FILE))
    return {
        "file": ONNX_FILE,
        "file_sha256": sha256_file(model_dir / ONNX_FILE),
        "tokenizer": TOKENIZER_FILE,
        "tokenizer_sha256": sha256_file(model_dir / TOKENIZER_FILE),
        "output_labels": labels,
        # The flair tokenizer's own limit, so both backends cut a long text alike.
        "max_sequence_tokens": int(embeddings.tokenizer.model_max_length),
        "quantization": {
            "method": "onnxruntime quantize_dynamic: int8 MatMul weights per channel, "
            "reduce_range; activations per call",
            "kept_float": kept_float,
        },
        "opset": OPSET,
    }
