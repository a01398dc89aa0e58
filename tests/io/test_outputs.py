"""The output policy: OUT never in or over an input, and never filled again without --overwrite."""

from __future__ import annotations

import pytest

from facedeblur.errors import InputError
from facedeblur.io.outputs import check_output


@pytest.fixture()
def inputs(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"x")
    return folder


def test_a_new_or_empty_out_is_taken(tmp_path, inputs):
    assert check_output(tmp_path / "new", [inputs]) == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", [inputs])


@pytest.mark.parametrize("flag", [{}, {"overwrite": True}, {"keep": True}])
def test_out_inside_an_input_folder_is_refused_even_with_overwrite(inputs, flag):
    with pytest.raises(InputError, match="inside the input folder"):
        check_output(inputs / "out", [inputs], **flag)
    with pytest.raises(InputError, match="output would overwrite an input"):
        check_output(inputs / "a.jpg", [inputs / "a.jpg"], **flag)
    with pytest.raises(InputError, match="holds the input"):
        check_output(inputs.parent, [inputs / "a.jpg"], **flag)


def test_a_folder_that_is_not_empty_needs_overwrite_or_keep(tmp_path, inputs):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.png").write_bytes(b"x")
    with pytest.raises(InputError, match=r"not empty; pass --overwrite .*--skip-existing"):
        check_output(out, [inputs])
    with pytest.raises(InputError, match="not empty; pass --overwrite") as caught:
        check_output(out, [inputs], keep_option="")
    assert "--skip-existing" not in str(caught.value)
    check_output(out, [inputs], overwrite=True)
    check_output(out, [inputs], keep=True)


def test_an_existing_file_needs_overwrite(tmp_path, inputs):
    out = tmp_path / "result.png"
    out.write_bytes(b"x")
    with pytest.raises(InputError, match="exists; pass --overwrite"):
        check_output(out, [inputs / "a.jpg"])
    check_output(out, [inputs / "a.jpg"], overwrite=True)
