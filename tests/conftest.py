"""Shared fixtures: the real face data of ../shared/data, small trees built from it, and fixtures
that test modules in several folders use (tiny weights, a trained run, a photo with two faces).

Tests that need the shared data get it through ``data_dir`` (directly or through the fixtures built
on it). Where the data is missing, those tests are skipped with one reason; with CI=true its
absence is an error instead, so a CI machine without the data cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import PEOPLE, background, tiny_config

REPO = Path(__file__).resolve().parents[1]
DATA_CANDIDATES = [REPO.parent / "shared" / "data", Path("/work/shared/data")]


def _data_dir() -> Path:
    """The shared data folder (one holding lfw/images); skips the test, or fails it under CI=true,
    if none.
    """
    env = os.environ.get("FACEDEBLUR_DATA")
    candidates = [Path(env)] if env else DATA_CANDIDATES
    for candidate in candidates:
        if (candidate / "lfw" / "images").is_dir():
            return candidate
    where = ", ".join(map(str, candidates))
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"shared face data not found in {where} (no lfw/images there), "
            "and CI=true requires it; "
            "set FACEDEBLUR_DATA to the data folder",
            pytrace=False,
        )
    pytest.skip(
        f"needs the shared face data: not found in {where}; set FACEDEBLUR_DATA to the data folder"
    )


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the shared data (LFW, CelebA, videos)."""
    return _data_dir()


@pytest.fixture(scope="session")
def lfw_people(data_dir) -> list[Path]:
    """Six LFW person folders that hold at least two images each."""
    people = [
        p
        for p in sorted((data_dir / "lfw" / "images").iterdir())
        if len(list(p.glob("*.jpg"))) >= 2
    ]
    return people[:6]


@pytest.fixture()
def lfw_tree(tmp_path, lfw_people) -> Path:
    """A small LFW-style tree (person folders, two images each) copied into a temporary folder."""
    root = tmp_path / "lfw"
    for person in lfw_people:
        (root / person.name).mkdir(parents=True)
        for img in sorted(person.glob("*.jpg"))[:2]:
            shutil.copy(img, root / person.name / img.name)
    return root


@pytest.fixture(scope="session")
def short_video(data_dir) -> Path:
    """A real 16-frame, 512x512 talking-face clip."""
    return data_dir / "videos" / "liveportrait" / "d1.mp4"


@pytest.fixture(scope="session")
def lpips_files(tmp_path_factory):
    """LPIPS weight files (AlexNet backbone, linear heads) made here with random values: the real
    loading code runs, without the official weights that these machines cannot download."""
    import torch

    from facedeblur.metrics.lpips import ALEX_CHANNELS, AlexNetFeatures

    root = tmp_path_factory.mktemp("lpips")
    torch.manual_seed(0)
    backbone = AlexNetFeatures().state_dict()
    backbone["classifier.6.bias"] = torch.zeros(
        1000
    )  # torchvision's file also holds the classifier
    torch.save(backbone, root / "alexnet-owt-7be5be79.pth")
    lins = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(ALEX_CHANNELS)}
    torch.save(lins, root / "alex.pth")
    return root / "alexnet-owt-7be5be79.pth", root / "alex.pth"


@pytest.fixture(scope="session")
def moments_root(tmp_path_factory, short_video) -> Path:
    """A frames-mode synth output (train and val splits of one real clip's windows), FMR cached."""
    from facedeblur.blur import KernelBlurSettings, SampleSettings, synthesize

    out = tmp_path_factory.mktemp("moments") / "synth"
    settings = SampleSettings(
        mode="frames",
        size=64,
        crop="face",
        margin=0.7,
        frame_counts=(5, 7),
        blur=KernelBlurSettings(noise_scale=0.0),
    )
    synthesize(short_video, out / "train", settings, count=6, seed=1, progress=False)
    synthesize(short_video, out / "val", settings, count=3, seed=2, progress=False)
    return out


TINY_GENERATOR = {"channels": 8, "blocks": 1, "control_channels": 8, "mapping_layers": 2}


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A tiny CFMD-GAN generator with random weights, saved as moments weights."""
    import torch

    from facedeblur.models.cfmd import CFMDGenerator
    from facedeblur.models.weights import save_weights

    torch.manual_seed(0)
    net = CFMDGenerator(**TINY_GENERATOR)
    path = tmp_path_factory.mktemp("cfmd") / "cfmd.safetensors"
    return save_weights(path, net, "cfmd", TINY_GENERATOR, data={"kind": "moments", "size": 64})


@pytest.fixture()
def trained_run(tmp_path, lfw_tree):
    """The run folder of a two-step tiny DeblurGAN training on real LFW faces."""
    from facedeblur.train import train

    run_dir, _ = train(
        tiny_config(tmp_path, lfw_tree, "lsgan", steps=2), run_dir=tmp_path / "run", progress=False
    )
    return run_dir


@pytest.fixture(scope="module")
def photo(data_dir):
    """Two motion-blurred LFW faces of different people on a 400 x 900 textured canvas."""
    import numpy as np

    from facedeblur.blur import blur_image, camera_shake_kernel
    from facedeblur.io import image_to_tensor, read_image, tensor_to_image
    from facedeblur.io.geometry import resize

    canvas = background(400, 900, seed=0)
    for (top, left, side), name, seed in zip([(70, 40, 250), (150, 650, 180)], PEOPLE, (1, 2)):
        face = read_image(data_dir / "lfw" / "images" / name)
        kernel, _ = camera_shake_kernel(
            np.random.default_rng(seed), max_length=40.0, output_size=250
        )
        blurred = tensor_to_image(blur_image(image_to_tensor(face), kernel))
        canvas[top : top + side, left : left + side] = resize(blurred, side)
    return (
        np.rint(canvas * 255.0) / 255.0
    )  # as read back from a PNG, so the CLI finds the same boxes


@pytest.fixture(scope="module")
def detections(photo):
    """The two faces of ``photo``, found by MTCNN."""
    from facedeblur.faces import build_detector

    found = build_detector("mtcnn")(photo)
    assert len(found) == 2
    return found


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Weights of a tiny, untrained DeblurGAN generator (one block, 8 channels), seeded: a model
    file that loads and runs in milliseconds, for the file commands' tests."""
    import torch

    from facedeblur.models import build_model
    from facedeblur.models.weights import save_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return save_weights(
        path, build_model("deblurgan", n_blocks=1, ngf=8), "deblurgan", {"n_blocks": 1, "ngf": 8}
    )
