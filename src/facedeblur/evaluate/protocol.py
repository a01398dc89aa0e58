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

from ..blur.synth import read_marker
from ..data.moments import read_manifest
from ..data.paired import find_pairs
from ..errors import InputError, UsageError
from ..faces import build_detector
from ..faces.dlib_faces import DLIB_MATCH_THRESHOLD, FaceDescriptor
from ..io import image_to_tensor, list_images, read_image, tensor_to_image
from ..metrics import psnr, ssim
from ..metrics.detection import match_face
from ..metrics.identity import identity_distances
from ..models.runtime import resolve_device
from ..models.weights import weights_label
from .baselines import richardson_lucy, unsharp_mask, wiener
from .tables import all_finite

MAX_PSNR = 100.0
"""PSNR of identical images (infinite) is reported as this many dB."""


@dataclass
class Method:
    """A way to restore a blurred image: ``restore(blur (C,H,W), kernel or None) -> (C,H,W)``."""

    name: str
    restore: object
    needs_kernel: bool = False


def moments_model_spec(spec: str) -> tuple[Path | None, str] | None:
    """(weights file, or None for the shipped model; method name) of a ``moments`` or
    ``moments:PATH`` spec; None for any other spec."""
    if spec == "moments":
        return None, "CFMD (shipped)"
    if spec.startswith("moments:"):
        path = Path(spec[len("moments:") :])
        return path, f"CFMD {weights_label(path)}"
    return None


def build_method(spec: str, device: str = "cpu") -> Method:
    """The method named by ``spec``.

    ``blurry``, ``wiener``, ``richardson-lucy``, ``unsharp``, ``default`` (the shipped model),
    ``model:PATH``, or ``moments`` / ``moments:PATH``: a CFMD moments model's centre moment
    (u = 0.5), scored against the sharp image like any single-image method. ``flip:SPEC`` runs
    one of the networks (``default``, ``model:PATH``, ``moments[:PATH]``) with its flip
    ensemble (``restore.Deblurrer``).
    """
    flip, spec = flip_spec(spec)
    network = spec == "default" or spec.startswith("model:") or moments_model_spec(spec)
    if flip and not network:
        raise UsageError(
            f"flip:{spec}: only a network has a flip ensemble "
            "(flip:default, flip:model:PATH, flip:moments, flip:moments:PATH)"
        )
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
        deblurrer = load_model(path, device=device, flip_ensemble=flip)
        name = "default model" if path is None else f"model {weights_label(path)}"
        return Method(flip_name(name, flip), lambda blur, kernel: deblurrer.deblur(blur))
    if (named := moments_model_spec(spec)) is not None:
        from ..restore.moments import load_moments_model

        path, name = named
        centre = load_moments_model(path, device=device, flip_ensemble=flip).at(0.5)
        return Method(flip_name(f"{name}, centre", flip), lambda blur, kernel: centre.deblur(blur))
    raise UsageError(
        f"unknown method {spec!r}; use blurry, wiener, richardson-lucy, unsharp, default, "
        "model:PATH, moments or moments:PATH, or flip: before a network's"
    )


def flip_spec(spec: str) -> tuple[bool, str]:
    """(whether ``spec`` asks for the flip ensemble, the spec without ``flip:``)."""
    if spec.startswith("flip:"):
        return True, spec[len("flip:") :]
    return False, spec


def flip_name(name: str, flip: bool) -> str:
    """A method's name in reports, marked when it runs with the flip ensemble."""
    return f"{name}, flip ensemble" if flip else name


@dataclass
class PairFiles:
    """One evaluation pair on disk (kernel only for kernel-mode synth outputs)."""

    id: str
    blur: Path
    sharp: Path
    kernel: Path | None = None

    def load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(sharp, blurred, kernel or None): HWC float images in [0, 1] of one size, and a
        square, odd-sided, finite kernel."""
        sharp, blur = read_image(self.sharp), read_image(self.blur)
        if sharp.shape != blur.shape:
            raise InputError(self.blur, "size differs from its sharp image")
        if self.kernel is None:
            return sharp, blur, None
        kernel = np.load(self.kernel).astype(np.float64)
        side = kernel.shape[0] if kernel.ndim == 2 else 0
        if kernel.shape != (side, side) or side % 2 == 0 or side >= 2 * min(sharp.shape[:2]):
            raise InputError(
                self.kernel, f"not a square odd-sided kernel for the image ({kernel.shape})"
            )
        if not np.isfinite(kernel).all():
            raise InputError(self.kernel, "kernel holds NaN or inf")
        return sharp, blur, kernel


INCOMPLETE_HINT = "pass --allow-incomplete to evaluate the samples it lists"


def record_files(root: str | Path, record) -> dict:
    """The files of one manifest line as paths below ``root``.

    Returns {"blur": Path, "sharp": Path} plus "kernel" (Path) and "frames" (list of Path) when
    the line has them. ``InputError`` when the line is malformed or one of its paths resolves
    outside ``root`` (absolute, ``..``, or through a link): such a sample is never read.
    """
    root = Path(root)
    where = root / "manifest.jsonl"
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, dict) or not {"blur", "sharp"} <= files.keys():
        raise InputError(where, "a line has no files.blur and files.sharp; it was left out")
    sample = f"sample {record.get('id', '?')}"
    top = root.resolve()

    def inside(name) -> Path:
        if not isinstance(name, str):
            raise InputError(where, f"{sample}: {name!r} is not a file name")
        if not (root / name).resolve().is_relative_to(top):
            raise InputError(where, f"{sample}: path {name!r} is outside {root}; not read")
        return root / name

    paths = {key: inside(files[key]) for key in ("blur", "sharp", "kernel") if key in files}
    if "frames" in files:
        if not isinstance(files["frames"], list):
            raise InputError(where, f"{sample}: files.frames is not a list")
        paths["frames"] = [inside(name) for name in files["frames"]]
    return paths


def check_complete(root: str | Path, records: list | None = None) -> None:
    """``InputError`` when ``root`` holds a synthesis that did not finish.

    That is: synth's marker says the run is unfinished, or ``blur/`` holds images that
    manifest.jsonl (``records``, read here when None) does not list, or a marker without
    a manifest. A blur/sharp folder with neither marker nor manifest (GoPro style) passes.
    """
    root = Path(root)
    manifest = root / "manifest.jsonl"
    marker = read_marker(root)
    if marker is None and not manifest.is_file():
        return
    if marker is not None and not marker.get("complete"):
        raise InputError(
            root, f"its synthesis did not finish (interrupted or still running); {INCOMPLETE_HINT}"
        )
    if records is None:
        records = read_manifest(manifest) if manifest.is_file() else []
    listed = set()
    for record in records:
        files = record.get("files") if isinstance(record, dict) else None
        if isinstance(files, dict) and isinstance(files.get("blur"), str):
            listed.add(Path(files["blur"]).as_posix())
    blur_dir = root / "blur"
    on_disk = list_images(blur_dir) if blur_dir.is_dir() else []
    unlisted = [p for p in on_disk if p.relative_to(root).as_posix() not in listed]
    if unlisted:
        raise InputError(
            root,
            f"{len(unlisted)} image(s) in blur/ are not in manifest.jsonl (first: "
            f"{unlisted[0].name}), so its synthesis did not finish; {INCOMPLETE_HINT}",
        )


def pair_folders(root: str | Path) -> list[Path]:
    """The folders that each hold one set of pairs: ``root`` itself when it has ``blur/`` or
    manifest.jsonl, else the outermost folders below it that have (the split folders of
    ``synth --split``, GoPro's sequences), in name order."""
    root = Path(root)
    if (root / "blur").is_dir() or (root / "manifest.jsonl").is_file():
        return [root]
    found = {p.parent for p in root.rglob("blur") if p.is_dir()}
    found |= {p.parent for p in root.rglob("manifest.jsonl") if p.is_file()}
    return sorted(f for f in found if not any(other in f.parents for other in found))


def list_pairs(
    root: str | Path, allow_incomplete: bool = False
) -> tuple[list[PairFiles], list[str]]:
    """Pairs of a ``facedeblur synth`` output or any blur/sharp folder, and problem lines.

    A folder of splits or sequences is read folder by folder (``pair_folders``). A synth
    output comes with kernels, via its manifest; it must be complete (``check_complete``, in
    ``root`` and in each split folder) unless ``allow_incomplete``. A manifest line that is
    malformed or points outside its folder becomes a problem line instead of a pair.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no such folder")
    folders = pair_folders(root)
    if not allow_incomplete and folders != [root]:
        check_complete(root)
    if not folders:
        raise InputError(
            root, "no blur/sharp image pairs found (expected blur/ and sharp/ folders)"
        )
    pairs, problems = [], []
    for folder in folders:
        found, issues = _folder_pairs(folder, allow_incomplete)
        pairs += found
        problems += issues
    return pairs, problems


def _folder_pairs(root: Path, allow_incomplete: bool) -> tuple[list[PairFiles], list[str]]:
    """The pairs and problem lines of one folder of ``pair_folders``."""
    manifest = root / "manifest.jsonl"
    records = read_manifest(manifest) if manifest.is_file() else None
    if not allow_incomplete:
        check_complete(root, records)
    if records is None:
        return [PairFiles(b.stem, b, s) for b, s in find_pairs(root)], []
    pairs, problems = [], []
    for record in records:
        try:
            paths = record_files(root, record)
        except InputError as exc:
            problems.append(str(exc))
            continue
        pairs.append(
            PairFiles(str(record.get("id")), paths["blur"], paths["sharp"], paths.get("kernel"))
        )
    if not pairs:
        detail = f" ({problems[0]})" if problems else ""
        raise InputError(manifest, f"manifest lists no usable samples{detail}")
    return pairs, problems


@dataclass
class EvalResult:
    """Per-image rows and per-method summaries of one evaluation."""

    methods: list[str]
    detector: str
    rows: list[dict] = field(default_factory=list)
    identity_backend: str | None = None
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
    device: str = "auto",
    identity: bool = True,
    identity_backend: str = "torch",
    progress: bool = True,
    allow_incomplete: bool = False,
) -> EvalResult:
    """Measure each method on the pairs under ``data`` (see ``list_pairs``).

    Only files inside ``data`` are read. Problems with single pairs are skipped and listed,
    and so is a pair on which a method scores NaN or inf, so every summary is finite. An
    unfinished synthesis is refused unless ``allow_incomplete``; ``limit`` (>= 1) takes the
    first pairs only. ``identity_backend`` runs dlib's recognition network in ``torch``
    (batched, the same descriptors) or in ``dlib`` itself (see ``faces.FaceDescriptor``).
    """
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be at least 1, got {limit}")
    device = resolve_device(device)
    built = [build_method(m, device) for m in methods]
    names = [m.name for m in built]
    check_unique_names(names)
    pairs, problems = list_pairs(data, allow_incomplete)
    pairs = pairs[:limit]
    detect = build_detector(detector)
    describe = FaceDescriptor(backend=identity_backend, device=device) if identity else None
    result = EvalResult(
        names, detector, skipped=problems, identity_backend=identity_backend if identity else None
    )
    for pair in tqdm(pairs, desc="evaluate", unit="image", disable=not progress):
        try:
            loaded = pair.load()
        except (InputError, OSError, ValueError) as exc:
            result.skipped.append(str(exc))
            continue
        rows, bad = _pair_rows(pair, loaded, built, detect, describe, result.skipped)
        bad = sorted(set(bad) | {r["method"] for r in rows if not all_finite(r)})
        if bad:
            result.skipped.append(
                f"{pair.blur}: NaN or infinite score for {', '.join(bad)}; pair left out"
            )
            continue
        result.rows += rows
    if not result.rows:
        detail = f" ({result.skipped[0]})" if result.skipped else ""
        raise InputError(data, f"no pair could be evaluated{detail}")
    result.summary = _summarise(result.rows, names)
    result.cases = _cases(result, {p.id: p for p in pairs}, built, detect)
    return result


def _pair_rows(
    pair, loaded, methods, detect, describe, skipped: list[str]
) -> tuple[list[dict], list[str]]:
    """The rows of one pair (the sharp image itself, then each method that can run on it), and
    the methods whose output holds NaN or inf (they get no row)."""
    sharp, blur, kernel = loaded
    sharp_t, blur_t = image_to_tensor(sharp), image_to_tensor(blur)
    sharp_dets = detect(sharp)
    reference = sharp_dets[0] if sharp_dets else None
    blurry_psnr = min(float(psnr(blur_t, sharp_t)[0]), MAX_PSNR)
    rows = [_row(pair.id, "sharp", sharp_t, sharp_t, sharp_dets, reference, 0.0, blurry_psnr, None)]
    bad = []
    outputs = []
    for method in methods:
        if method.needs_kernel and kernel is None:
            skipped.append(
                f"{pair.blur}: {method.name} needs the true kernel (kernel-mode synth output)"
            )
            continue
        start = time.perf_counter()
        with torch.no_grad():
            out = method.restore(blur_t, kernel).clamp(0.0, 1.0)
        ms = 1000.0 * (time.perf_counter() - start)
        if not torch.isfinite(out).all():
            bad.append(method.name)
            continue
        outputs.append((method, out, tensor_to_image(out), ms))
    distances = [None] * len(outputs)
    if describe is not None and reference is not None and outputs:
        found = describe.descriptors(
            [sharp] + [image for _, _, image, _ in outputs], [reference.box] * (len(outputs) + 1)
        )
        distances = [float(d) for d in identity_distances(found[1:], found[0])]
    for (method, out, out_img, ms), distance in zip(outputs, distances):
        detect_start = time.perf_counter()
        dets = detect(out_img)
        detect_ms = 1000.0 * (time.perf_counter() - detect_start)
        row = _row(pair.id, method.name, out, sharp_t, dets, reference, ms, blurry_psnr, distance)
        rows.append({**row, "detect_ms": detect_ms})
    return rows, bad


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
    value = min(float(psnr(out, sharp_t)[0]), MAX_PSNR)
    matched = match_face(dets, reference.box) if reference is not None else None
    return {
        "id": pair_id,
        "method": method,
        "psnr": value,
        "ssim": float(ssim(out, sharp_t)[0]),
        "psnr_gain": value - blurry_psnr,
        "faces": len(dets),
        "has_reference": reference is not None,
        "found": matched is not None,
        "score": matched.score if matched is not None else None,
        "box": list(matched.box) if matched is not None else None,
        "false_positives": max(0, len(dets) - (1 if matched is not None else 0)),
        "identity_distance": distance,
        "ms": ms,
    }
