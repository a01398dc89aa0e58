"""Training with the identity and face-feature losses, and starting from given weights."""

from __future__ import annotations

import pytest
import torch
import yaml

from facedeblur.errors import UsageError
from facedeblur.models.weights import read_weights
from facedeblur.train import Trainer, load_config, train
from tests.helpers import tiny_config
from tests.train.test_train import losses_by_step

FACE_WEIGHTS = ["loss.identity_weight=0.01", "loss.face_feature_weight=0.01"]


def _face_config(tmp_path, lfw_tree, steps: int = 4):
    """The tiny preset on whole 64 px faces (the face losses need whole faces)."""
    path = tiny_config(tmp_path, lfw_tree, "none", steps=steps, ckpt_every=2, val_every=2)
    config = yaml.safe_load(path.read_text())
    config["data"].update(size=64, crop=64)
    config["loss"].update(identity_weight=0.01, face_feature_weight=0.01)
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_a_preset_with_face_losses_trains_and_resumes_exactly(tmp_path, lfw_tree):
    config = _face_config(tmp_path, lfw_tree)
    full_dir, _ = train(config, run_dir=tmp_path / "full", progress=False)
    Trainer(load_config(config), tmp_path / "killed", progress=False).fit(until=2)
    train(None, resume=tmp_path / "killed", progress=False)
    full, resumed = losses_by_step(full_dir), losses_by_step(tmp_path / "killed")
    assert sorted(full) == sorted(resumed) == [1, 2, 3, 4]
    for step in (3, 4):
        for key in ("g", "content", "identity", "face_feature", "face_skipped"):
            assert resumed[step][key] == full[step][key], (step, key)
    assert all(full[s]["identity"] > 0 and full[s]["face_skipped"] < 2 for s in full)


def test_face_loss_weights_are_checked(tmp_path, lfw_tree):
    config = tiny_config(tmp_path, lfw_tree, "none")
    with pytest.raises(UsageError, match="finite and >= 0"):
        load_config(config, ["loss.identity_weight=-1"])
    with pytest.raises(UsageError, match="no faces for the face losses"):
        load_config("attributes-light", ["loss.face_feature_weight=0.1"])
    assert load_config(config, FACE_WEIGHTS).loss.identity_weight == 0.01


def test_a_run_starts_from_init_weights(tmp_path, lfw_tree):
    config = tiny_config(tmp_path, lfw_tree, "none", steps=1)
    first, _ = train(config, run_dir=tmp_path / "first", progress=False)
    weights = first / "generator.safetensors"
    _, tensors = read_weights(weights)
    trainer = Trainer(
        load_config(config, [f"generator.init_weights={weights}"]), tmp_path / "second"
    )
    for name, value in trainer.generator.state_dict().items():
        assert torch.equal(value, tensors[name]), name
    assert trainer.task.origin["init"]["weights"] == str(weights)
    other = load_config(config, [f"generator.init_weights={weights}", "generator.args.ngf=16"])
    with pytest.raises(UsageError, match="init_weights holds deblurgan"):
        Trainer(other, tmp_path / "third")
