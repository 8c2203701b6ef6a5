"""The classifier ``make model`` trains: how much of the encoder it keeps."""

from __future__ import annotations

import pytest

from moodstream_common.records import LABELS
from moodstream_model import training

WEIGHTS = dict.fromkeys(LABELS, 1.0)


def test_the_classifier_keeps_the_first_encoder_layers() -> None:
    full = training.new_classifier(training.TrainingSettings(encoder_layers=6), WEIGHTS)
    kept = training.new_classifier(training.TrainingSettings(), WEIGHTS)
    layers = training.TrainingSettings().encoder_layers
    encoder = kept.embeddings.model
    assert len(encoder.encoder.layer) == encoder.config.num_hidden_layers == layers < 6
    # The kept layers are the bottom ones, with the pre-trained weights unchanged.
    for index in range(layers):
        ours = encoder.encoder.layer[index].state_dict()
        theirs = full.embeddings.model.encoder.layer[index].state_dict()
        assert all((ours[name] == theirs[name]).all() for name in ours)


@pytest.mark.parametrize("layers", [0, 7])
def test_a_layer_count_the_encoder_does_not_have_is_refused(layers: int) -> None:
    with pytest.raises(ValueError, match="encoder_layers"):
        training.new_classifier(training.TrainingSettings(encoder_layers=layers), WEIGHTS)
