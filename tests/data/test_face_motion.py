"""Face-motion blur of still faces drawn on the fly, for restoration and for CFMD-GAN moments."""

from __future__ import annotations

import pytest
import torch
import yaml
from torch.utils.data import DataLoader

from facedeblur.blur import KernelBlurSettings, SampleSettings
from facedeblur.data import FaceMotionBlur
from facedeblur.errors import UsageError
from facedeblur.faces.motion_order import control_factors
from facedeblur.io import write_image
from facedeblur.train import load_config
from facedeblur.train.data import build_datasets
from tests.helpers import background

SETTINGS = SampleSettings(
    mode="face-motion",
    size=48,
    crop="face",
    margin=0.7,
    frame_counts=(5,),
    blur=KernelBlurSettings(noise_scale=0.0),
)


def test_face_motion_batches_for_restoration_and_moments(lfw_tree):
    faceless = lfw_tree / "Aaa_Nobody"
    faceless.mkdir()
    write_image(faceless / "wall.png", background(120, 120, 1))
    files = sorted(lfw_tree.rglob("*.*"))[:4]
    assert files[0].name == "wall.png"
    ds = FaceMotionBlur(files, SETTINGS, seed=3)
    ds.set_epoch(0)
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["blur"].shape == batch["sharp"].shape == (2, 3, 48, 48)
    assert batch["id"][0] != "wall", "a faceless image is passed over for the next face"
    assert len(ds.skipped) == 1 and "wall.png" in ds.skipped[0]
    assert 0.0 < float((batch["blur"] - batch["sharp"]).abs().mean()) < 0.1
    ds.set_epoch(0)
    torch.testing.assert_close(ds[1]["blur"], batch["blur"][1])
    ds.set_epoch(1)
    assert not torch.equal(ds[1]["blur"], batch["blur"][1]), "every epoch draws a new motion"

    moments = FaceMotionBlur(files[1:], SETTINGS, seed=3, moments=True)
    moments.set_epoch(0)
    item = moments[0]
    assert item["num_frames"] == 5
    assert float(item["u"]) in control_factors(5).tolist()
    assert item["sharp"].shape == (3, 48, 48)
    with pytest.raises(ValueError, match="face-motion"):
        FaceMotionBlur(files, SampleSettings())


def test_facemotion_data_kind_builds_training_data(lfw_tree, tmp_path):
    config = {
        "data": {
            "kind": "facemotion",
            "train": str(lfw_tree),
            "size": 48,
            "crop": 32,
            "val_fraction": 0.34,
            "val_count": 2,
            "frame_counts": [5],
            "head": 2.0,
        },
    }
    path = tmp_path / "fm.yaml"
    path.write_text(yaml.safe_dump(config))
    cfg = load_config(path)
    train, val = build_datasets(cfg.data, seed=0)
    assert isinstance(train, FaceMotionBlur) and train.settings.motion.head == 2.0
    train.set_epoch(0)
    assert train[0]["blur"].shape == (3, 32, 32), "the random training crop applies"
    assert len(val) == 2 and val[0]["sharp"].shape == (3, 48, 48)
    with pytest.raises(UsageError, match="jitter"):
        load_config(path, ["data.jitter=0.1"])
    with pytest.raises(UsageError, match="data.head"):
        build_datasets(load_config(path, ["data.head=9"]).data, seed=0)
