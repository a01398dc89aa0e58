"""Where networks run: ``--device auto|cpu|cuda`` and the default CPU thread count."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from facedeblur.errors import UsageError
from facedeblur.models import runtime


def test_auto_falls_back_to_the_cpu_and_cuda_without_cuda_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert runtime.resolve_device("auto") == "cpu"
    assert runtime.resolve_device("cpu") == "cpu"
    with pytest.raises(UsageError, match="CUDA is not available on this machine"):
        runtime.resolve_device("cuda")
    with pytest.raises(UsageError, match="unknown device 'gpu'"):
        runtime.resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.resolve_device("auto") == "cuda"


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 1), (6, 3), (64, 4)])
def test_the_default_leaves_half_the_cores_free_and_takes_at_most_four(
    monkeypatch, cores, expected
):
    monkeypatch.setattr(runtime, "usable_cores", lambda: cores)
    assert runtime.default_threads() == expected


def test_set_threads_applies_the_default_unless_the_environment_names_a_count(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
        monkeypatch.setattr(runtime, "default_threads", lambda: 1)
        torch.set_num_threads(2)
        assert runtime.set_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        torch.set_num_threads(2)
        assert runtime.set_threads() == 2 and torch.get_num_threads() == 2
        assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1
        with pytest.raises(UsageError, match="--threads"):
            runtime.set_threads(0)
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
def test_importing_facedeblur_sets_the_default_in_a_fresh_process():
    code = (
        "import torch; torch.set_num_threads(3); import facedeblur; "
        "print(torch.get_num_threads(), facedeblur.default_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k not in runtime.THREAD_ENVIRONMENT}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    now, default = out.stdout.split()
    assert now == default
