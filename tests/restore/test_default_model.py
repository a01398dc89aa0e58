"""The shipped default model: it loads with no argument, restores held-out faces, and exports."""

import numpy as np
import pytest
import torch

import facedeblur
from facedeblur.blur import KernelBlurSettings
from facedeblur.blur.pipeline import random_kernel_blur
from facedeblur.io import image_to_tensor, read_image, tensor_to_image
from facedeblur.metrics import psnr
from facedeblur.models import MODELS
from facedeblur.models.weights import default_model_path, load_network
from facedeblur.restore.loading import load_model
from facedeblur.restore.onnx_export import onnx_bytes
from facedeblur.restore.onnx_runner import OnnxRunner
from facedeblur.splits import assign_splits

MAX_BYTES = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def default_model():
    return load_model()


@pytest.fixture(scope="module")
def held_out_faces(data_dir, default_model) -> list[np.ndarray]:
    """One 128 px face of each of four LFW people the default model never trained on.

    Training held out a fraction of the person folders with ``assign_splits``; the weights
    header records the fraction and the seed.
    """
    split_settings = default_model.header["data"]["validation"]
    fraction = split_settings["val_fraction"]
    root = data_dir / "lfw" / "images"
    people = sorted(p.name for p in root.iterdir() if p.is_dir())
    split = assign_splits(
        people, {"train": 1.0 - fraction, "val": fraction}, split_settings["split_seed"]
    )
    held_out = [name for name in people if split[name] == "val"][:4]
    return [
        tensor_to_image(
            torch.nn.functional.interpolate(
                image_to_tensor(read_image(sorted((root / name).glob("*.jpg"))[0]))[None],
                size=128,
                mode="area",
            )[0]
        )
        for name in held_out
    ]


def test_every_shipped_weights_file_is_small_and_loads():
    shipped = sorted(default_model_path().parent.glob("*.safetensors"))
    assert default_model_path() in shipped
    for path in shipped:
        assert path.stat().st_size <= MAX_BYTES, path
        model, header = load_network(path)
        assert header["architecture"] in MODELS
        assert header["data"]["size"] in (64, 128)
        assert sum(p.numel() for p in model.parameters()) > 0


def test_default_model_restores_blurred_held_out_faces(default_model, held_out_faces):
    gains = []
    for k, sharp in enumerate(held_out_faces):
        rng = np.random.default_rng(k)
        blurred, _, _ = random_kernel_blur(
            image_to_tensor(sharp), rng, KernelBlurSettings(max_length=60.0)
        )
        blurred = tensor_to_image(blurred)
        restored = default_model.deblur(blurred)
        assert restored.shape == sharp.shape
        gains.append(_psnr(restored, sharp) - _psnr(blurred, sharp))
    assert min(gains) > 0.0, gains
    assert np.mean(gains) > 1.0, gains


def test_a_sharp_face_comes_back_without_a_colour_cast(default_model, held_out_faces):
    sharp = held_out_faces[0]
    restored = default_model.deblur(sharp)
    cast = np.abs(restored.reshape(-1, 3).mean(0) - sharp.reshape(-1, 3).mean(0))
    assert cast.max() < 0.01, cast


@pytest.mark.slow
def test_onnx_export_of_the_default_model_matches_torch(default_model, held_out_faces):
    runner = OnnxRunner(onnx_bytes(default_model.model, default_model.header), threads=1)
    onnx_model = facedeblur.Deblurrer(runner)
    batch = held_out_faces[:3]
    for a, b in zip(default_model.deblur_batch(batch), onnx_model.deblur_batch(batch)):
        assert np.abs(a - b).max() < 1e-3


def _psnr(image: np.ndarray, reference: np.ndarray) -> float:
    return float(psnr(image_to_tensor(image), image_to_tensor(reference))[0])


def test_the_first_default_model_loads_by_its_name_and_differs_from_the_default(held_out_faces):
    first, current = load_model("default-v1"), load_model()
    assert first.header["preset"] == "face-nafnet"
    assert current.header["preset"] == "face-nafnet-v2"
    assert current.header["init"]["weights"] == "default-v1"
    face = held_out_faces[0]
    assert np.abs(first.deblur(face) - current.deblur(face)).max() > 1 / 255
