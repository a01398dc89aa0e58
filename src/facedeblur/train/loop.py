"""The training loop: one loop for every method, each method a ``Task`` (see ``train.tasks``).

A run directory holds ``config.yaml`` (resolved), ``run.json`` (git commit, versions),
``metrics.jsonl``, ``samples/`` (blurry | restored | sharp grids), ``checkpoints/last.pt`` and
``best.pt``, the final ``generator.safetensors`` that ``facedeblur.load_model`` reads, and
``best.safetensors``, the weights of the best validation.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import platform
import random
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml
from tqdm import tqdm

from ..errors import FaceDeblurError, UsageError
from ..io import atomic_write_text, write_image
from ..io.sheets import contact_sheet
from ..models.weights import save_weights
from .checkpoint import load_checkpoint, restore_rng_state, rng_state, save_checkpoint
from .config import RunConfig, to_dict
from .data import BatchStream
from .schedule import build_scheduler
from .tasks import task_for


def _git_commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return result.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _versions() -> dict:
    import cv2
    import skimage

    from .. import __version__

    return {
        "facedeblur": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "scikit-image": skimage.__version__,
        "python": platform.python_version(),
    }


def _tensorboard_writer(run_dir: Path):
    """A TensorBoard writer in ``run_dir/tensorboard`` when tensorboard is installed, else False."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return False
    return SummaryWriter(str(run_dir / "tensorboard"))


class Trainer:
    """Train the networks of a ``RunConfig``'s task: the one loop of every method.

    Resume, EMA, bf16 autocast, DDP, validation, checkpoints and exports live here; the task
    (``train.tasks``, chosen by ``data.kind``) owns the networks, losses, the step and the
    validation metric.

    Args:
        config: the resolved configuration.
        run_dir: the run directory (created; with ``resume`` it must hold a checkpoint).
        resume: continue from ``run_dir/checkpoints/last.pt``.
        progress: show a progress bar (rank 0 only).
    """

    def __init__(
        self, config: RunConfig, run_dir: str | Path, resume: bool = False, progress: bool = True
    ):
        self.cfg = config
        self.run_dir = Path(run_dir)
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            backend = (
                "nccl" if torch.cuda.is_available() and config.train.device != "cpu" else "gloo"
            )
            dist.init_process_group(backend)
        self.main = self.rank == 0
        self.progress = progress and self.main
        self.device = self._device()
        t = config.train
        torch.manual_seed(t.seed + self.rank)
        np.random.seed((t.seed + self.rank) % 2**32)
        random.seed(t.seed + self.rank)
        self.task = task_for(config)(config, self.device)
        self.generator, self.discriminator = self.task.generator, self.task.discriminator
        if t.channels_last and self.device.type == "cuda":
            self.generator = self.task.generator = self.generator.to(
                memory_format=torch.channels_last
            )
        self.ema = copy.deepcopy(self.generator).eval() if t.ema > 0 else None
        betas = tuple(config.optim.betas)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.optim.lr, betas=betas)
        self.sched_g = build_scheduler(self.opt_g, t.steps, config.optim)
        self.opt_d = self.sched_d = None
        if self.discriminator is not None:
            self.opt_d = torch.optim.Adam(
                self.discriminator.parameters(),
                lr=config.optim.d_lr or config.optim.lr,
                betas=betas,
            )
            self.sched_d = build_scheduler(self.opt_d, t.steps, config.optim)
        self.g_train = self.generator
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g_train = torch.nn.parallel.DistributedDataParallel(self.generator, device_ids=ids)
            # The critic runs several times per step (and twice more for the gradient penalty),
            # which DDP's reducer does not allow; its gradients are averaged by hand instead.
            if self.discriminator is not None:
                for tensor in self.discriminator.state_dict().values():
                    dist.broadcast(tensor, src=0)
        train_ds, self.val = self.task.datasets(t.seed)
        self.stream = BatchStream(
            train_ds, t.batch_size, t.seed, config.data.workers, self.rank, self.world
        )
        self.step = 0
        self.best = {self.task.score: -float("inf"), "step": 0}
        self._tensorboard = None
        if resume:
            self._resume(self.run_dir / "checkpoints" / "last.pt")
        elif self.main:
            self._write_run_files()
        self.task.prepare(train_ds, self.val)

    def _device(self) -> torch.device:
        want = self.cfg.train.device
        if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
            if not torch.cuda.is_available():
                raise UsageError("train.device is cuda but no CUDA device is available")
            index = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(index)
            return torch.device("cuda", index)
        return torch.device("cpu")

    def autocast(self):
        """bf16 autocast on CUDA when ``train.bf16``, else a no-op context."""
        if self.device.type == "cuda" and self.cfg.train.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _write_run_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.run_dir / "config.yaml", yaml.safe_dump(to_dict(self.cfg), sort_keys=False)
        )
        info = {
            "git_commit": _git_commit(),
            "versions": _versions(),
            "world_size": self.world,
            "device": str(self.device),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        atomic_write_text(self.run_dir / "run.json", json.dumps(info, indent=2))

    def _state(self) -> dict:
        state = {
            "step": self.step,
            "best": self.best,
            "data": self.stream.state(),
            "rng": rng_state(),
            "generator": self.generator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "config": to_dict(self.cfg),
        }
        if self.discriminator is not None:
            state.update(
                discriminator=self.discriminator.state_dict(),
                opt_d=self.opt_d.state_dict(),
                sched_d=self.sched_d.state_dict(),
            )
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def _resume(self, path: Path) -> None:
        """Continue from the checkpoint at ``path``; one-line error when it does not fit."""
        try:
            self._load(load_checkpoint(path))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            reason = (str(exc).strip().splitlines() or [""])[0]
            raise FaceDeblurError(
                f"{path}: the checkpoint does not fit this run ({type(exc).__name__}: {reason})"
            ) from None

    def _load(self, state: dict) -> None:
        self.step, self.best = state["step"], state["best"]
        self.generator.load_state_dict(state["generator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.sched_g.load_state_dict(state["sched_g"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.sched_d.load_state_dict(state["sched_d"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.stream.load_state(state["data"])
        restore_rng_state(state["rng"])

    def _average_discriminator_grads(self) -> None:
        if self.world > 1:
            for p in self.discriminator.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= self.world

    def _clip(self, module) -> None:
        if self.cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(module.parameters(), self.cfg.optim.grad_clip)

    def step_discriminator(self, loss: torch.Tensor) -> None:
        """Back-propagate a discriminator loss on fresh gradients (averaged over processes),
        clip them and step the discriminator's optimiser; its schedule steps once per train step."""
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self._average_discriminator_grads()
        self._clip(self.discriminator)
        self.opt_d.step()

    def train_step(self, batch: dict) -> dict:
        """One step of the task: its discriminator steps, then one generator step.

        Returns the losses.
        """
        g_loss, losses = self.task.train_step(batch, self)
        if self.discriminator is not None:
            self.sched_d.step()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self._clip(self.generator)
        self.opt_g.step()
        self.sched_g.step()
        if self.ema is not None:
            # Warm-up: an average over the first steps must not keep the random initial weights
            # (0.999 ** 600 is still 55% of them); the decay grows to train.ema as steps accrue.
            decay = min(self.cfg.train.ema, (1.0 + self.step) / (10.0 + self.step))
            with torch.no_grad():
                for e, p in zip(self.ema.parameters(), self.generator.parameters()):
                    if p.requires_grad:  # a frozen part (a CFMD generator's base) never changes
                        e.lerp_(p, 1.0 - decay)
        losses.update(g=g_loss.item(), lr=self.opt_g.param_groups[0]["lr"])
        return losses

    def validate(self) -> dict:
        """The task's validation metrics of the EMA (or the live) generator.

        Measured on the held-out samples.
        """
        net = self.ema or self.generator
        net.eval()
        metrics = self.task.validate(net, self.val, self)
        self.generator.train()
        return metrics

    def write_samples(self, rows: list[list], titles: list[str]) -> Path:
        """Write a validation grid (rows of float RGB images) as ``samples/val_<step>.png``."""
        return write_image(
            self.run_dir / "samples" / f"val_{self.step:07d}.png",
            contact_sheet(rows, titles, cell=128),
        )

    def _log(self, record: dict) -> None:
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if self._tensorboard is None:
            self._tensorboard = _tensorboard_writer(self.run_dir)
        if self._tensorboard:
            for key, value in record.items():
                if key != "step":
                    self._tensorboard.add_scalar(key, value, record["step"])
            self._tensorboard.flush()

    def save(self) -> None:
        """Write ``checkpoints/last.pt`` (rank 0)."""
        if self.main:
            save_checkpoint(self.run_dir / "checkpoints" / "last.pt", self._state())

    def export(self, metrics: dict | None = None) -> Path:
        """Write the generator as ``generator.safetensors`` with its header.

        The weights are the EMA ones when enabled. ``metrics`` are those of these weights (the
        last validation); the header also keeps the best.
        """
        return self._save_weights(
            self.run_dir / "generator.safetensors",
            self.ema or self.generator,
            metrics or {},
            self.step,
        )

    def export_best(self) -> Path | None:
        """Write the weights saved at the best validation as ``best.safetensors``.

        They are read from ``checkpoints/best.pt``.

        A run that overfits ends below its best; these are the weights to ship then. Returns
        None when no validation has run yet.
        """
        path = self.run_dir / "checkpoints" / "best.pt"
        if not path.is_file():
            return None
        state = load_checkpoint(path)
        net = copy.deepcopy(self.ema or self.generator)
        net.load_state_dict(state["ema"] if self.ema is not None else state["generator"])
        metrics = {k: v for k, v in state["best"].items() if k != "step"}
        return self._save_weights(self.run_dir / "best.safetensors", net, metrics, state["step"])

    def _save_weights(self, path: Path, net: torch.nn.Module, metrics: dict, steps: int) -> Path:
        task = self.task
        data = task.data_header(self.stream.dataset, self.val)
        return save_weights(
            path,
            net,
            self.cfg.generator.name,
            task.generator_args,
            data=data,
            **task.origin,
            metrics=metrics,
            best=self.best,
            steps=steps,
            preset=self.cfg.name,
        )

    def fit(self, until: int | None = None) -> dict:
        """Train until ``train.steps`` (or stop early after step ``until``, with a checkpoint).

        Returns the last validation metrics.
        """
        t = self.cfg.train
        stop = min(t.steps, until) if until is not None else t.steps
        last_val: dict = {}
        bar = tqdm(
            total=t.steps,
            initial=self.step,
            desc=self.cfg.name,
            unit="step",
            disable=not self.progress,
        )
        while self.step < stop:
            losses = self.train_step(next(self.stream))
            self.step += 1
            bar.update(1)
            bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items() if k != "lr"})
            if self.main and (self.step % t.log_every == 0 or self.step == t.steps):
                self._log({"step": self.step, **losses})
            if self.main and (self.step % t.val_every == 0 or self.step == t.steps):
                last_val = self.validate()
                self._log({"step": self.step, **last_val})
                if last_val[self.task.score] > self.best[self.task.score]:
                    self.best = {**last_val, "step": self.step}
                    save_checkpoint(self.run_dir / "checkpoints" / "best.pt", self._state())
                bar.write(self.task.describe(self.step, last_val))
            if self.step % t.ckpt_every == 0 or self.step == stop:
                self.save()
        bar.close()
        if self.main and self.step == t.steps:
            self.export(last_val)
            self.export_best()
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
        return last_val
