"""The demo command: the default model on the astronaut, with its sheet."""

import pytest

from facedeblur.commands.demo import run_demo
from facedeblur.io import read_image


@pytest.mark.slow
def test_demo_restores_the_astronaut_and_writes_its_sheet(tmp_path):
    result = run_demo(tmp_path / "demo")
    for path in (result.sheet, result.blurry, result.restored):
        assert path.is_file()
    assert read_image(result.sheet).shape[1] == 3 * 320 + 4 * 4
    assert result.restored_psnr > result.blurry_psnr
    assert result.restored_identity < result.blurry_identity
