"""Shared fixtures: the real face data of ../shared/data and small trees built from it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_CANDIDATES = [REPO.parent / "shared" / "data", Path("/work/shared/data")]


def _data_dir() -> Path:
    env = os.environ.get("FACEDEBLUR_DATA")
    candidates = [Path(env)] if env else DATA_CANDIDATES
    for candidate in candidates:
        if (candidate / "lfw" / "images").is_dir():
            return candidate
    pytest.fail(f"shared face data not found in {', '.join(map(str, candidates))}; set FACEDEBLUR_DATA")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the shared data (LFW, CelebA, videos)."""
    return _data_dir()


@pytest.fixture(scope="session")
def lfw_people(data_dir) -> list[Path]:
    """Six LFW person folders that hold at least two images each."""
    people = [p for p in sorted((data_dir / "lfw" / "images").iterdir()) if len(list(p.glob("*.jpg"))) >= 2]
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
    backbone["classifier.6.bias"] = torch.zeros(1000)  # torchvision's file also holds the classifier
    torch.save(backbone, root / "alexnet-owt-7be5be79.pth")
    lins = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(ALEX_CHANNELS)}
    torch.save(lins, root / "alex.pth")
    return root / "alexnet-owt-7be5be79.pth", root / "alex.pth"


@pytest.fixture(scope="session")
def moments_root(tmp_path_factory, short_video) -> Path:
    """A frames-mode synth output (train and val splits of one real clip's windows), FMR cached."""
    from facedeblur.blur import KernelBlurSettings, SampleSettings, synthesize

    out = tmp_path_factory.mktemp("moments") / "synth"
    settings = SampleSettings(mode="frames", size=64, crop="face", margin=0.7, frame_counts=(5, 7),
                              blur=KernelBlurSettings(noise_scale=0.0))
    synthesize(short_video, out / "train", settings, count=6, seed=1, progress=False)
    synthesize(short_video, out / "val", settings, count=3, seed=2, progress=False)
    return out
