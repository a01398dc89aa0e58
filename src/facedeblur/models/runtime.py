"""Where networks run: the device (``auto``, ``cpu``, ``cuda``) and the number of CPU threads.

torch's own thread count is one per core. On a machine that other processes keep busy, its
threads wait on each other at every parallel region and one face can take tens of times longer
than with fewer threads (``benchmarks/threads.py`` measures it). facedeblur therefore sets its
own default when the package is imported (``set_threads`` in ``facedeblur/__init__.py``), unless
``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` is set, which the user's choice wins over.
"""

from __future__ import annotations

import os

import torch

from ..errors import UsageError

DEVICES = ("auto", "cpu", "cuda")
MAX_THREADS = 256
# The most threads the default takes, however many cores there are.
DEFAULT_THREADS_CAP = 4
THREAD_ENVIRONMENT = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_threads() -> int:
    """facedeblur's default CPU thread count: half the usable cores, at least 1, at most 4.

    Leaving half the cores free keeps one network call from waiting on threads that other
    processes have pushed off the CPU.
    """
    return max(1, min(DEFAULT_THREADS_CAP, usable_cores() // 2))


def set_threads(threads: int | None = None) -> int:
    """Set torch's CPU threads for the whole process and return the count now in force.

    ``threads`` is 1 .. 256; None means ``default_threads()``, except that a thread count set
    in the environment (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) is then left as torch read it.
    """
    if threads is None:
        if any(os.environ.get(name) for name in THREAD_ENVIRONMENT):
            return torch.get_num_threads()
        threads = default_threads()
    if not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise UsageError(f"--threads must be an integer in [1, {MAX_THREADS}], got {threads!r}")
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def cuda_usable(backend: str = "torch") -> bool:
    """Whether ``backend`` (``torch`` or ``onnxruntime``) can run on a CUDA device here."""
    if backend == "onnxruntime":
        try:
            import onnxruntime
        except ImportError:  # reported with how to install it when a model is loaded
            return False
        return "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    return torch.cuda.is_available()


def resolve_device(device: str = "auto", backend: str = "torch") -> str:
    """``cpu`` or ``cuda`` for a ``--device`` choice.

    ``auto`` is ``cuda`` where ``backend`` can use CUDA, else ``cpu``; ``cuda`` where it cannot
    raises ``UsageError`` with one line saying so.
    """
    if device not in DEVICES:
        raise UsageError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
    if device == "cpu":
        return "cpu"
    usable = cuda_usable(backend)
    if device == "auto":
        return "cuda" if usable else "cpu"
    if not usable:
        raise UsageError("CUDA is not available on this machine; use --device cpu or auto")
    return "cuda"
