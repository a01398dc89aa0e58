"""The N-moment protocol of CFMD-GAN (its Table 4): every restored moment against its sharp frame.

Each frames-mode sample (``facedeblur synth --mode frames``) holds a blurry face and the N sharp
frames it averages. Its frames are put in control-factor order (FMR, cached in the manifest, or
time order), and each method produces N moments: a CFMD generator at u_k = k / (N - 1), or a
single-image method whose one result is repeated N times (the baseline CFMD must beat). Each
moment is scored against the frame at its place: PSNR, SSIM and the dlib identity distance (the
face box found on the sample's middle frame is used for every frame). Scores are averaged over
the moments of a sample, then over the samples of each N, and over all samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.moments import VideoMoments
from ..errors import FaceDeblurError, InputError, UsageError
from ..faces.dlib_faces import FaceDescriptor
from ..io import tensor_to_image
from ..metrics import psnr, ssim
from ..metrics.identity import identity_distances
from ..models.runtime import resolve_device
from ..restore.moments import load_moments_model
from ..splits import spread_indices
from .protocol import (
    build_method,
    check_complete,
    check_unique_names,
    flip_name,
    flip_spec,
    moments_model_spec,
    record_files,
)
from .tables import all_finite, mean_of_known

CASE_ROWS = 3


@dataclass
class MomentMethod:
    """A way to get N moments from a blurry face.

    ``restore(blur (3, H, W), u (N,)) -> (N, 3, H, W)``.
    """

    name: str
    restore: object


def build_moment_method(spec: str, device: str = "cpu") -> MomentMethod:
    """``moments`` (shipped CFMD-GAN), ``moments:PATH``, ``flip:`` before either (the flip
    ensemble, ``restore.moments.run_moments``), or ``repeat:SPEC``.

    ``repeat:SPEC`` works for any ``evaluate`` method SPEC (``repeat:default``,
    ``repeat:model:PATH``, ``repeat:blurry``; ``blurry`` is short for the last).
    """
    flip, model_spec = flip_spec(spec)
    if (named := moments_model_spec(model_spec)) is not None:
        path, name = named
        restorer = load_moments_model(path, device=device, flip_ensemble=flip)

        def restore(blur: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            return restorer.run(blur[None].expand(len(u), -1, -1, -1), u).cpu()

        return MomentMethod(flip_name(name, flip), restore)
    if spec == "blurry":
        spec = "repeat:blurry"
    if spec.startswith("repeat:"):
        single = build_method(spec[len("repeat:") :], device)
        if single.needs_kernel:
            raise UsageError(f"{spec}: frames-mode samples have no kernel for {single.name}")

        def repeat(blur: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                one = single.restore(blur, None).clamp(0.0, 1.0)
            return one[None].expand(len(u), -1, -1, -1)

        name = "blurry (repeated)" if single.name == "blurry" else f"{single.name}, repeated"
        return MomentMethod(name, repeat)
    raise UsageError(
        f"unknown moments method {spec!r}; use moments, moments:PATH, flip:moments[:PATH], "
        "blurry or repeat:SPEC"
    )


@dataclass
class MomentsResult:
    """Per-sample rows, per-method summaries by N and overall, and pictures of a few samples."""

    methods: list[str]
    frame_order: str
    rows: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    cases: list[dict] = field(default_factory=list)


def summarise(rows: list[dict], methods: list[str]) -> dict:
    """{method: {"N=5": {...}, ..., "all": {...}}}.

    Each entry holds samples, psnr, ssim and identity_distance means.
    """
    summary = {}
    for name in methods:
        mine = [r for r in rows if r["method"] == name]
        groups = {
            f"N={n}": [r for r in mine if r["num_frames"] == n]
            for n in sorted({r["num_frames"] for r in mine})
        }
        groups["all"] = mine
        summary[name] = {
            key: {
                "samples": len(group),
                "psnr": mean_of_known([r["psnr"] for r in group]),
                "ssim": mean_of_known([r["ssim"] for r in group]),
                "identity_distance": mean_of_known([r["identity_distance"] for r in group]),
            }
            for key, group in groups.items()
            if group
        }
    return summary


def evaluate_moments(
    data: str | Path,
    methods: list[str],
    frame_order: str = "fmr",
    limit: int | None = None,
    device: str = "auto",
    identity: bool = True,
    identity_backend: str = "torch",
    progress: bool = True,
    allow_incomplete: bool = False,
) -> MomentsResult:
    """Score each method's N moments on the frames-mode samples under ``data``.

    See the module docstring. Only files inside ``data`` are read: a manifest line pointing
    elsewhere is skipped and listed, and so is a sample on which a method scores NaN or inf.
    An unfinished synthesis is refused unless ``allow_incomplete``; ``limit`` (>= 1) spreads
    that many samples over the data. ``identity_backend`` as in ``evaluate.evaluate``.
    """
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1, got {limit}")
    device = resolve_device(device)
    built = [build_moment_method(m, device) for m in methods]
    names = [m.name for m in built]
    check_unique_names(names)
    if not allow_incomplete:
        check_complete(data)
    dataset = VideoMoments(data, order_by=frame_order)
    dataset.set_epoch(0)
    skipped = _drop_outside(dataset, Path(data))
    describe = FaceDescriptor(backend=identity_backend, device=device) if identity else None
    picks = spread_indices(len(dataset), limit)
    case_picks = set(picks[:: max(1, len(picks) // CASE_ROWS)][:CASE_ROWS])
    result = MomentsResult(names, frame_order, skipped=skipped)
    for index in tqdm(picks, desc="evaluate moments", unit="sample", disable=not progress):
        try:
            item = dataset[index]
        except (InputError, OSError, ValueError) as exc:
            result.skipped.append(str(exc))
            continue
        truth = item["frames"][item["order"]]
        n = truth.shape[0]
        truth_images = [tensor_to_image(t) for t in truth]
        box, truth_desc = None, None
        if describe is not None:
            box = describe.face_box(tensor_to_image(item["sharp"]))
            truth_desc = describe.descriptors(truth_images, [box] * n)
        case = (
            {"id": item["id"], "truth": truth_images, "outputs": {}}
            if index in case_picks
            else None
        )
        rows, bad = [], []
        for method in built:
            try:
                out = method.restore(item["blur"], item["u"])
            except FaceDeblurError as exc:
                result.skipped.append(f"{item['id']}: {method.name}: {exc}")
                continue
            if not torch.isfinite(out).all():
                bad.append(method.name)
                continue
            images = [tensor_to_image(t) for t in out]
            distances = (
                identity_distances(describe.descriptors(images, [box] * len(images)), truth_desc)
                if describe is not None
                else []
            )
            rows.append(
                {
                    "id": item["id"],
                    "method": method.name,
                    "num_frames": n,
                    "psnr": float(psnr(out, truth).clamp(max=100.0).mean()),
                    "ssim": float(ssim(out, truth).mean()),
                    "identity_distance": float(np.mean(distances)) if len(distances) else None,
                }
            )
            if case is not None:
                case["outputs"][method.name] = images
        bad = sorted(set(bad) | {r["method"] for r in rows if not all_finite(r)})
        if bad:
            result.skipped.append(
                f"{item['id']}: NaN or infinite score for {', '.join(bad)}; sample left out"
            )
            continue
        result.rows += rows
        if case is not None:
            result.cases.append(case)
    if not result.rows:
        detail = f" ({result.skipped[0]})" if result.skipped else ""
        raise InputError(data, f"no sample could be evaluated{detail}")
    result.summary = summarise(result.rows, names)
    return result


def _drop_outside(dataset: VideoMoments, root: Path) -> list[str]:
    """Leave out the samples whose manifest paths lie outside ``root``; one line for each."""
    kept, problems = [], []
    for record in dataset.records:
        try:
            record_files(root, record)
        except InputError as exc:
            problems.append(str(exc))
            continue
        kept.append(record)
    if not kept:
        raise InputError(root, f"no sample could be evaluated ({problems[0]})")
    dataset.records = kept
    return problems
