"""Evaluation protocol: every method (model, classical baseline, plain input) measured alike.

For each blurred/sharp pair and each method: PSNR and SSIM (RGB, Wang et al. window),
identity distance (dlib descriptors of restored and sharp faces, both cut with the sharp
image's face box), and face detection (a face counts as found when a detection overlaps the
reference box, the detection on the sharp image, at IoU >= 0.5), plus runtime per image.
``facedeblur evaluate`` writes the tables and pictures with ``facedeblur.reports``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.moments import read_manifest
from ..data.paired import find_pairs
from ..errors import InputError, UsageError
from ..faces import build_detector
from ..faces.dlib_faces import DLIB_MATCH_THRESHOLD, FaceDescriptor
from ..io import image_to_tensor, read_image, tensor_to_image
from ..metrics import psnr, ssim
from ..metrics.detection import match_face
from ..metrics.identity import identity_distances
from ..models.weights import weights_label
from .baselines import richardson_lucy, unsharp_mask, wiener


@dataclass
class Method:
    """A way to restore a blurred image: ``restore(blur (C,H,W), kernel or None) -> (C,H,W)``."""

    name: str
    restore: object
    needs_kernel: bool = False


def build_method(spec: str, device: str = "cpu") -> Method:
    """The method named by ``spec``.

    ``blurry``, ``wiener``, ``richardson-lucy``, ``unsharp``, ``default`` (the shipped model) or
    ``model:PATH``.
    """
    if spec == "blurry":
        return Method("blurry", lambda blur, kernel: blur)
    if spec == "wiener":
        return Method(
            "wiener (oracle kernel)", lambda blur, kernel: wiener(blur, kernel), needs_kernel=True
        )
    if spec in ("richardson-lucy", "rl"):
        return Method(
            "richardson-lucy (oracle kernel)",
            lambda blur, kernel: richardson_lucy(blur, kernel),
            needs_kernel=True,
        )
    if spec == "unsharp":
        return Method("unsharp mask", lambda blur, kernel: unsharp_mask(blur))
    if spec == "default" or spec.startswith("model:"):
        from ..restore.loading import load_model

        path = None if spec == "default" else Path(spec[len("model:") :])
        deblurrer = load_model(path, device=device)
        name = "default model" if path is None else f"model {weights_label(path)}"
        return Method(name, lambda blur, kernel: deblurrer.deblur(blur))
    raise UsageError(
        f"unknown method {spec!r}; use blurry, wiener, richardson-lucy, unsharp, default "
        "or model:PATH"
    )


@dataclass
class PairFiles:
    """One evaluation pair on disk (kernel only for kernel-mode synth outputs)."""

    id: str
    blur: Path
    sharp: Path
    kernel: Path | None = None

    def load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(sharp, blurred, kernel or None), checking that the two images have the same size."""
        sharp, blur = read_image(self.sharp), read_image(self.blur)
        if sharp.shape != blur.shape:
            raise InputError(self.blur, "size differs from its sharp image")
        kernel = np.load(self.kernel).astype(np.float64) if self.kernel is not None else None
        return sharp, blur, kernel


def list_pairs(root: str | Path) -> list[PairFiles]:
    """Pairs of a ``facedeblur synth`` output or any blur/sharp folder.

    A synth output comes with kernels, via its manifest.
    """
    root = Path(root)
    manifest = root / "manifest.jsonl"
    if manifest.is_file():
        pairs = []
        for record in read_manifest(manifest):
            files = record["files"]
            kernel = root / files["kernel"] if "kernel" in files else None
            pairs.append(
                PairFiles(record["id"], root / files["blur"], root / files["sharp"], kernel)
            )
        if not pairs:
            raise InputError(manifest, "manifest lists no samples")
        return pairs
    return [PairFiles(b.stem, b, s) for b, s in find_pairs(root)]


@dataclass
class EvalResult:
    """Per-image rows and per-method summaries of one evaluation."""

    methods: list[str]
    detector: str
    rows: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    cases: list[dict] = field(default_factory=list)


def _summarise(rows: list[dict], methods: list[str]) -> dict:
    summary = {}
    for name in methods + ["sharp"]:
        mine = [r for r in rows if r["method"] == name]
        if not mine:
            continue
        with_ref = [r for r in mine if r["has_reference"]]
        ids = [r["identity_distance"] for r in mine if r["identity_distance"] is not None]
        found = [r["score"] for r in with_ref if r["found"]]
        summary[name] = {
            "images": len(mine),
            "psnr": float(np.mean([r["psnr"] for r in mine])),
            "ssim": float(np.mean([r["ssim"] for r in mine])),
            "psnr_gain": float(np.mean([r["psnr_gain"] for r in mine])),
            "identity_distance": float(np.mean(ids)) if ids else None,
            "verification_accuracy": float(np.mean([d < DLIB_MATCH_THRESHOLD for d in ids]))
            if ids
            else None,
            "no_face_rate": float(np.mean([r["faces"] == 0 for r in mine])),
            "failure_rate": float(1.0 - len(found) / len(with_ref)) if with_ref else None,
            "mean_confidence": float(np.mean(found)) if found else None,
            "false_positives": int(sum(r["false_positives"] for r in mine)),
            "ms_per_image": float(np.mean([r["ms"] for r in mine])),
            "detector_images_per_second": (
                1000.0 / float(np.mean([r["detect_ms"] for r in mine]))
                if mine and "detect_ms" in mine[0]
                else None
            ),
        }
    return summary


def check_unique_names(names: list[str]) -> None:
    """``UsageError`` naming the first method whose report name is taken twice."""
    seen = set()
    for name in names:
        if name in seen:
            raise UsageError(
                f"each method may be given once: two methods are named {name!r} "
                "(weights files are named by file, or by run folder for generator/best.safetensors)"
            )
        seen.add(name)


def evaluate(
    data: str | Path,
    methods: list[str],
    detector: str = "mtcnn",
    limit: int | None = None,
    device: str = "cpu",
    identity: bool = True,
    progress: bool = True,
) -> EvalResult:
    """Measure each method on the pairs under ``data``.

    Problems with single pairs are skipped and listed.
    """
    built = [build_method(m, device) for m in methods]
    names = [m.name for m in built]
    check_unique_names(names)
    pairs = list_pairs(data)[: limit or None]
    detect = build_detector(detector)
    describe = None
    if identity:
        describe = FaceDescriptor()
    result = EvalResult(names, detector)
    for pair in tqdm(pairs, desc="evaluate", unit="image", disable=not progress):
        try:
            sharp, blur, kernel = pair.load()
        except (InputError, OSError, ValueError) as exc:
            result.skipped.append(str(exc))
            continue
        sharp_t, blur_t = image_to_tensor(sharp), image_to_tensor(blur)
        sharp_dets = detect(sharp)
        reference = sharp_dets[0] if sharp_dets else None
        sharp_desc = describe(sharp, reference.box if reference else None) if describe else None
        blurry_psnr = float(psnr(blur_t, sharp_t)[0])
        result.rows.append(
            _row(pair.id, "sharp", sharp_t, sharp_t, sharp_dets, reference, 0.0, blurry_psnr, None)
        )
        for method in built:
            if method.needs_kernel and kernel is None:
                result.skipped.append(
                    f"{pair.blur}: {method.name} needs the true kernel (kernel-mode synth output)"
                )
                continue
            start = time.perf_counter()
            with torch.no_grad():
                out = method.restore(blur_t, kernel).clamp(0.0, 1.0)
            ms = 1000.0 * (time.perf_counter() - start)
            out_img = tensor_to_image(out)
            detect_start = time.perf_counter()
            dets = detect(out_img)
            detect_ms = 1000.0 * (time.perf_counter() - detect_start)
            distance = None
            if describe is not None and reference is not None:
                distance = float(identity_distances(describe(out_img, reference.box), sharp_desc))
            row = _row(
                pair.id, method.name, out, sharp_t, dets, reference, ms, blurry_psnr, distance
            )
            result.rows.append({**row, "detect_ms": detect_ms})
    if not result.rows:
        raise InputError(data, "no pair could be evaluated")
    result.summary = _summarise(result.rows, names)
    result.cases = _cases(result, {p.id: p for p in pairs}, built, detect)
    return result


def _cases(result: EvalResult, pairs: dict, methods: list[Method], detect) -> list[dict]:
    """Best, median and worst pair by the PSNR gain of the last method that is not the input itself,
    restored again so their pictures can be drawn (pixels are not kept for every pair)."""
    focus = next((m.name for m in reversed(methods) if m.name != "blurry"), methods[0].name)
    gains = {r["id"]: r["psnr_gain"] for r in result.rows if r["method"] == focus}
    if not gains:
        return []
    ranked = sorted(gains, key=gains.get)
    cases = []
    for label, pair_id in (
        ("best", ranked[-1]),
        ("median", ranked[len(ranked) // 2]),
        ("worst", ranked[0]),
    ):
        pair = pairs[pair_id]
        sharp, blur, kernel = pair.load()
        outputs = {}
        for method in methods:
            if method.needs_kernel and kernel is None:
                continue
            with torch.no_grad():
                out = tensor_to_image(method.restore(image_to_tensor(blur), kernel).clamp(0.0, 1.0))
            outputs[method.name] = (out, detect(out))
        cases.append(
            {
                "label": label,
                "id": pair_id,
                "blurry": blur,
                "sharp": (sharp, detect(sharp)),
                "outputs": outputs,
            }
        )
    return cases


def _row(pair_id, method, out, sharp_t, dets, reference, ms, blurry_psnr, distance) -> dict:
    value = float(psnr(out, sharp_t)[0])
    matched = match_face(dets, reference.box) if reference is not None else None
    return {
        "id": pair_id,
        "method": method,
        "psnr": min(value, 100.0),
        "ssim": float(ssim(out, sharp_t)[0]),
        "psnr_gain": min(value, 100.0) - blurry_psnr,
        "faces": len(dets),
        "has_reference": reference is not None,
        "found": matched is not None,
        "score": matched.score if matched is not None else None,
        "box": list(matched.box) if matched is not None else None,
        "false_positives": max(0, len(dets) - (1 if matched is not None else 0)),
        "identity_distance": distance,
        "ms": ms,
    }
