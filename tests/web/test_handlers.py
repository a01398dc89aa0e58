"""The web page's handlers without a browser: what each tab returns for a real blurred face, the
one-line messages for bad uploads, the ``serve`` command and the package's place."""

from __future__ import annotations

import json
import socket
import sys

import numpy as np
import pytest

from tests.test_layers import _graph
from tests.web.tools import require_module

gr = require_module("gradio")

from facedeblur.cli import build_parser, main  # noqa: E402
from facedeblur.errors import UsageError  # noqa: E402
from facedeblur.io import read_image, write_image  # noqa: E402
from facedeblur.web import DEFAULT_HOST, DEFAULT_PORT, Handlers, serve  # noqa: E402
from facedeblur.web.handlers import CROP_SIDE  # noqa: E402


@pytest.fixture()
def handlers(tmp_path, tiny_model):
    """Handlers over a tiny untrained deblurring model: fast, and its output differs from its
    input."""
    return Handlers(tmp_path / "results", model=tiny_model, device="cpu")


def _message(call) -> str:
    with pytest.raises(gr.Error) as caught:
        call()
    return caught.value.message


def test_an_upload_that_is_not_an_image_gets_one_line_naming_it(handlers, tmp_path):
    upload = tmp_path / "notes.jpg"
    upload.write_text("not a picture")
    message = _message(lambda: handlers.deblur(str(upload)))
    assert message == "notes.jpg: not a readable image (corrupt file or unsupported format)"
    assert str(tmp_path) not in message  # the server's folders stay private


def test_no_upload_too_many_bytes_and_too_many_pixels_are_refused(tmp_path, tiny_model):
    upload = write_image(tmp_path / "grey.png", np.full((40, 50, 3), 0.5, np.float32))
    assert _message(lambda: Handlers(tmp_path).deblur(None)) == "no photo: upload one first"
    small = Handlers(tmp_path, model=tiny_model, max_upload_mb=upload.stat().st_size / 2**21)
    assert _message(lambda: small.obfuscate(str(upload), "blur")).startswith(
        "grey.png: too large ("
    )
    few = Handlers(tmp_path, model=tiny_model, max_pixels=40 * 50 - 1)
    message = _message(lambda: few.moments(str(upload)))
    assert message.startswith("grey.png: 50x40 image") and "limit" in message


def test_a_failure_of_the_server_is_one_line_in_the_page_and_a_traceback_in_its_log(
    handlers, tmp_path, monkeypatch, caplog
):
    def broken(*_):
        raise RuntimeError("out of memory\nsecond line")

    monkeypatch.setattr(handlers, "deblurrer", broken)
    upload = write_image(tmp_path / "grey.png", np.full((40, 50, 3), 0.5, np.float32))
    message = _message(lambda: handlers.deblur(str(upload)))
    assert message == "the server failed (RuntimeError: out of memory); its log has the details"
    assert "Traceback" in caplog.text and "second line" in caplog.text


@pytest.mark.slow
def test_a_photo_without_a_face_says_so_and_how_to_restore_it_whole(handlers, tmp_path):
    upload = write_image(tmp_path / "wall.png", np.full((96, 96, 3), 0.5, np.float32))
    message = _message(lambda: handlers.deblur(str(upload)))
    assert message == "wall.png: no face found; for a face crop, tick 'Whole image' and run again"
    before_after, faces, download, _ = handlers.deblur(str(upload), whole_image=True)
    assert faces == [] and read_image(download).shape == (96, 96, 3)
    assert _message(lambda: handlers.obfuscate(str(upload), "blur")) == "wall.png: no face found"


@pytest.mark.slow
def test_deblur_returns_the_slider_pair_the_face_crops_and_the_full_size_download(
    handlers, blurry_face
):
    (before, after), faces, download, summary = handlers.deblur(str(blurry_face))
    blurry = read_image(blurry_face)
    np.testing.assert_array_equal(before, blurry)
    restored = read_image(download)
    assert download.endswith("blurry_restored.png") and restored.shape == blurry.shape
    np.testing.assert_allclose(after, restored, atol=1 / 255)
    assert np.abs(restored - blurry).mean() > 0.002
    assert [caption for _, caption in faces] == ["face 1: before", "face 1: after"]
    assert faces[0][0].shape == faces[1][0].shape == (CROP_SIDE, CROP_SIDE, 3)
    assert summary.startswith("Restored 1 face(s) of **blurry.png** (250 x 250 px)")


def test_the_flip_ensemble_switch_reaches_the_model(handlers, blurry_face):
    from facedeblur import load_model

    blurry = read_image(blurry_face)
    *_, plain, _ = handlers.deblur(str(blurry_face), whole_image=True)
    *_, flipped, summary = handlers.deblur(str(blurry_face), whole_image=True, flip_ensemble=True)
    expected = load_model(handlers.model, device="cpu", flip_ensemble=True).deblur(blurry)
    np.testing.assert_allclose(read_image(flipped), expected, atol=1 / 255)
    assert np.abs(read_image(flipped) - read_image(plain)).max() > 2 / 255
    assert summary.startswith("Restored all of **blurry.png**")


@pytest.mark.slow
def test_moments_returns_an_animation_and_one_frame_per_u(tmp_path, tiny_weights, blurry_face):
    from PIL import Image

    handlers = Handlers(tmp_path, moments_model=tiny_weights, device="cpu")
    animation, frames, download, _ = handlers.moments(str(blurry_face), 3)
    assert [caption for _, caption in frames] == ["u=0.00", "u=0.50", "u=1.00"]
    assert download == animation and animation.endswith("blurry_moments.gif")
    with Image.open(animation) as gif:
        assert gif.size == (250, 250) and gif.n_frames == 4  # forward and back: 0 1 2 1


@pytest.mark.slow
def test_obfuscate_returns_the_result_and_the_sidecar_written_beside_it(handlers, blurry_face):
    result, sidecar, (picture, record), summary = handlers.obfuscate(str(blurry_face), "pixelate")
    assert json.loads(open(record, encoding="utf-8").read()) == sidecar
    assert record == picture + ".json"
    assert (sidecar["source"], sidecar["method"]) == ("blurry.png", "pixelate")
    assert (sidecar["found"], sidecar["hidden"], len(sidecar["faces"])) == (1, 1, 1)
    np.testing.assert_allclose(result, read_image(picture), atol=1 / 255)
    assert np.abs(read_image(picture) - read_image(blurry_face)).mean() > 0.002
    assert summary.startswith("Hid 1 of 1 face(s) of **blurry.png**")


@pytest.mark.slow
def test_only_the_command_line_imports_the_web_package():
    importers = {
        module
        for module, deps in _graph().items()
        if not module.startswith("facedeblur.web")
        and any(d == "facedeblur.web" or d.startswith("facedeblur.web.") for d in deps)
    }
    assert importers == {"facedeblur.cli"}


def test_serve_listens_on_this_machine_only_by_default():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 7860)


@pytest.mark.slow
def test_serve_refuses_a_port_in_use_with_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot serve on 127.0.0.1:{port}: the port is"):
            serve(port=port, device="cpu", block=False)


def test_serve_without_gradio_says_which_extra_to_install(monkeypatch, capsys):
    for name in [m for m in sys.modules if m.startswith("facedeblur.web")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio raises ImportError
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == (
        "facedeblur serve: error: the web page needs Gradio, which is not installed: "
        "pip install 'facedeblur[web]'\n"
    )
