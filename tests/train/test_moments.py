"""CFMD-GAN training: the learning-rate schedule, tiny runs (with stills, on a base deblurrer),
the config checks.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from facedeblur import load_model, load_moments_model
from facedeblur.data import MixedDataset, ShakeMomentPairs
from facedeblur.errors import FaceDeblurError, UsageError
from facedeblur.io import read_image
from facedeblur.models import NAFNet
from facedeblur.models.weights import load_network, read_weights, save_weights
from facedeblur.restore import moments
from facedeblur.train import load_config, make_trainer
from facedeblur.train.config import NetConfig, OptimConfig
from facedeblur.train.generator import build_generator
from facedeblur.train.schedule import lr_factor
from facedeblur.train.tasks import MomentsTask


# ---------------------------------------------------------------- schedule
def test_exponential_schedule_decays_per_epoch():
    optim = OptimConfig(schedule="exponential", gamma=0.99, epoch_steps=10)
    assert lr_factor(9, 100, optim) == 1.0
    assert lr_factor(10, 100, optim) == pytest.approx(0.99)
    assert lr_factor(25, 100, optim) == pytest.approx(0.99**2)


# ---------------------------------------------------------------- training
@pytest.mark.slow
@pytest.mark.parametrize("order, stills", [("fmr", True), ("time", False)])
def test_tiny_cfmd_run_has_finite_losses_in_every_term(
    moments_root, lfw_tree, tmp_path, order, stills
):
    shake = (
        [f"data.shake_train={lfw_tree}", "data.shake_fraction=0.5"]
        if stills
        else ["data.shake_train="]
    )
    cfg = load_config(
        "cfmd-cpu",
        shake
        + [
            f"data.train={moments_root / 'train'}",
            f"data.val={moments_root / 'val'}",
            "data.crop=32",
            "data.val_count=2",
            f"data.frame_order={order}",
            "generator.args.channels=8",
            "generator.args.blocks=1",
            "generator.args.control_channels=8",
            "discriminator.args.channels=8",
            "discriminator.args.levels=2",
            "train.steps=2",
            "train.batch_size=2",
            "train.val_every=2",
            "train.device=cpu",
            "loss.adversarial=gan",
            "loss.adversarial_weight=0.1",
            "loss.aux_weight=0.05",
        ],
    )
    trainer = make_trainer(cfg, tmp_path / "run", progress=False)
    assert isinstance(trainer.task, MomentsTask)
    losses = trainer.train_step(next(trainer.stream))
    for term in ("d_global", "d_pixel", "d_u", "g_adv", "g_u", "perceptual", "content", "g"):
        assert np.isfinite(losses[term]), term
    metrics = trainer.fit()
    assert {"val_psnr", "val_center_psnr", "repeat_psnr", "blurry_psnr"} <= set(metrics)
    header = json.loads(
        json.dumps(load_moments_model(tmp_path / "run" / "generator.safetensors").header)
    )
    assert header["architecture"] == "cfmd" and header["data"]["frame_order"] == order
    assert ("shake_moments" in header["data"]) == stills
    assert header["base"]["preset"] == load_model().header["preset"], (
        "the preset builds on the shipped default model"
    )
    if stills:
        assert header["data"]["shake_moments"]["train"] == str(lfw_tree)
        assert isinstance(trainer.stream.dataset, MixedDataset)
        assert isinstance(trainer.stream.dataset.secondary, ShakeMomentPairs)
    assert list((tmp_path / "run" / "samples").glob("val_*.png"))


@pytest.mark.slow
def test_tiny_cfmd_run_on_a_base_deblurrer_keeps_its_weights(moments_root, tmp_path):
    torch.manual_seed(0)
    nafnet_args = {"width": 8, "enc_blocks": [1, 1, 1], "middle_blocks": 1, "dec_blocks": [1, 1, 1]}
    base_file = save_weights(
        tmp_path / "base.safetensors",
        NAFNet(**nafnet_args),
        "nafnet",
        nafnet_args,
        preset="tiny-nafnet",
        steps=7,
    )
    cfg = load_config(
        "cfmd-cpu",
        [
            f"data.train={moments_root / 'train'}",
            f"data.val={moments_root / 'val'}",
            "data.crop=32",
            "data.val_count=2",
            "data.shake_train=",
            f"data.extra_train=[{moments_root / 'val'}]",
            "data.centre_fraction=0.25",
            "generator.args.channels=8",
            "generator.args.blocks=1",
            "generator.args.control_channels=8",
            f"generator.base_weights={base_file}",
            "generator.args.anchored=true",
            "loss.adversarial=none",
            "train.steps=2",
            "train.batch_size=2",
            "train.val_every=2",
            "train.device=cpu",
        ],
    )
    trainer = make_trainer(cfg, tmp_path / "run", progress=False)
    assert set(trainer.stream.dataset.roots) == {moments_root / "train", moments_root / "val"}
    assert trainer.stream.dataset.centre_fraction == 0.25
    trainer.fit()
    restorer = load_moments_model(tmp_path / "run" / "generator.safetensors")
    assert restorer.header["data"]["extra_train"] == [str(moments_root / "val")]
    assert restorer.header["data"]["centre_fraction"] == 0.25
    assert restorer.header["base"] == {
        "weights": str(base_file),
        "preset": "tiny-nafnet",
        "steps": 7,
    }
    assert restorer.header["args"]["base"] == {"architecture": "nafnet", "args": nafnet_args}
    trained = restorer.generator.base.state_dict()
    assert all(torch.equal(trained[k], v) for k, v in read_weights(base_file)[1].items()), (
        "the base never trains"
    )
    blurry = read_image(sorted((moments_root / "val" / "blur").glob("*.png"))[0])
    clip = moments(blurry, n=3, model=restorer)
    assert len(clip) == 3
    assert restorer.header["args"]["anchored"] is True
    with torch.no_grad():
        base_result = load_network(base_file)[0](
            torch.from_numpy(blurry).permute(2, 0, 1)[None]
        ).clamp(0, 1)
    np.testing.assert_allclose(
        clip[1],
        base_result[0].permute(1, 2, 0).numpy(),
        atol=1e-5,
        err_msg="anchored: the centre moment is the base's result",
    )
    assert np.abs(clip[0] - clip[1]).max() > 1e-5, "the other moments move (a little after 2 steps)"

    with pytest.raises(FaceDeblurError, match="no such weights file"):
        make_trainer(
            load_config("cfmd-cpu", [f"generator.base_weights={tmp_path / 'missing.safetensors'}"]),
            tmp_path / "run2",
            progress=False,
        )


def test_a_moments_model_moves_onto_another_base(tmp_path):
    nafnet_args = {"width": 8, "enc_blocks": [1, 1, 1], "middle_blocks": 1, "dec_blocks": [1, 1, 1]}
    bases = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        bases.append(
            save_weights(
                tmp_path / f"base{seed}.safetensors", NAFNet(**nafnet_args), "nafnet", nafnet_args
            )
        )
    cfmd = {"channels": 8, "blocks": 1, "control_channels": 8, "anchored": True}
    trained, args, _ = build_generator(NetConfig("cfmd", dict(cfmd), base_weights=str(bases[0])))
    torch.manual_seed(2)
    for value in trained.parameters():
        value.data.normal_()
    moments_file = save_weights(tmp_path / "moments.safetensors", trained, "cfmd", args)

    moved, _, origin = build_generator(
        NetConfig("cfmd", dict(cfmd), base_weights=str(bases[1]), init_weights=str(moments_file))
    )
    assert origin["base"]["weights"] == str(bases[1])
    assert origin["init"]["weights"] == str(moments_file)
    new_base = read_weights(bases[1])[1]
    for name, value in moved.state_dict().items():
        if name.startswith("base."):
            assert torch.equal(value, new_base[name.removeprefix("base.")]), name
        else:
            assert torch.equal(value, trained.state_dict()[name]), name


def test_moments_config_is_checked():
    with pytest.raises(UsageError, match="generator.name cfmd"):
        load_config("cfmd-cpu", ["generator.name=nafnet"])
    with pytest.raises(UsageError, match="frame_order"):
        load_config("cfmd-cpu", ["data.frame_order=eyes"])
    with pytest.raises(UsageError, match="base_weights needs generator.name cfmd"):
        load_config("face-nafnet", ["generator.base_weights=default"])
    with pytest.raises(UsageError, match="anchored needs generator.base_weights"):
        load_config("cfmd-cpu", ["generator.base_weights=", "generator.args.anchored=true"])
    assert (
        load_config("cfmd-cpu", ["generator.args.anchored=true"]).generator.args["anchored"] is True
    )
    with pytest.raises(UsageError, match="centre_fraction must lie"):
        load_config("cfmd-cpu", ["data.centre_fraction=1.0"])
    with pytest.raises(UsageError, match="unknown key 'extra_train' for data.kind onthefly"):
        load_config("face-nafnet", ["data.extra_train=[frames]"])
