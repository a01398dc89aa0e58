"""The dataset builder behind ``facedeblur synth``: paired blurred/sharp faces on disk.

Layout (GoPro-style, one root per split when ``split`` is given)::

    OUT[/<split>]/blur/<id>.png      blurred input
    OUT[/<split>]/sharp/<id>.png     ground truth
    OUT[/<split>]/kernel/<id>.npy    float kernel, and kernel/<id>.png to look at (kernel mode)
    OUT[/<split>]/frames/<id>/NN.png the N sharp frames in time order (frames, face-motion)
    OUT[/<split>]/manifest.jsonl     one JSON line per sample: source, parameters, seed
    OUT[/<split>]/.facedeblur-synth  marker: {"complete": false} while running, true when done

OUT must be new or empty, or hold an earlier synthesis (its marker), which ``overwrite``
replaces: only files named as samples, manifests and markers are removed, never other files.
The preview sheet goes to a new path outside SRC (or over the earlier synthesis's preview).

Samples are independent: sample ``i`` draws everything from its own seed, derived from the
run seed and ``i``, so the output does not depend on processing order, and a second run
with the same arguments is byte-identical.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import FaceDeblurError, InputError, UsageError
from ..io import (
    ImageConversionWarning,
    atomic_write_text,
    is_image_file,
    list_images,
    read_image,
    save_array,
    write_image,
)
from ..io.sheets import contact_sheet, heatmap, kernel_to_image
from ..splits import assign_splits, sample_seed
from .face_motion import FaceMotionSettings
from .frames import Clip, find_clips, open_clip
from .pipeline import KernelBlurSettings
from .samples import (
    LowMotionError,
    Sample,
    SampleSettings,
    analyse_window,
    face_motion_sample,
    kernel_sample,
    plan_window,
    render_face_motion_sample,
    render_frames_sample,
    window_crop,
    window_frames,
)
from .trajectory import TrajectoryParams

PREVIEW_ROWS = 8
PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_COUNT = 10_000_000
MARKER = ".facedeblur-synth"
SAMPLE_ID = re.compile(r"\d{6,}_[A-Za-z0-9_.-]*")
SAMPLE_FILE = re.compile(r"\d{6,}_[A-Za-z0-9_.-]*\.(png|npy)")
FRAME_FILE = re.compile(r"\d{2,}\.png")


@dataclass
class SynthReport:
    """What a synthesis run did: samples written per split, problems, notes, preview path."""

    out: Path
    requested: int
    written: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    preview: Path | None = None

    @property
    def total_written(self) -> int:
        """Samples written over all splits."""
        return sum(self.written.values())


@dataclass(frozen=True)
class _Job:
    index: int
    sample_id: str
    split: str
    source: Path
    seed: int


def _safe_stem(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)[:60]


def _check_paths(src: Path, out: Path, preview: Path | None, overwrite: bool) -> None:
    """Refuse paths that could lose data; nothing is created or removed here."""
    if not src.exists():
        raise InputError(src, "no such file or folder")
    src_r, out_r = src.resolve(), out.resolve()
    if src.is_dir() and (out_r == src_r or src_r in out_r.parents):
        raise InputError(
            out,
            f"output folder is inside the source folder {src}; nothing is ever written into SRC",
        )
    if out_r in src_r.parents:
        raise InputError(out, f"output folder contains the source {src}; choose a separate OUT")
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if read_marker(out) is None:
            raise InputError(
                out,
                "output folder is not empty and holds no earlier synthesis, so even --overwrite "
                "may not clear it; choose a new or empty folder",
            )
        if not overwrite:
            raise InputError(
                out, "output folder holds an earlier synthesis; pass --overwrite to replace it"
            )
    if preview is not None:
        _check_preview(preview, src_r, out, overwrite)


def _check_preview(preview: Path, src_r: Path, out: Path, overwrite: bool) -> None:
    """The preview goes to a new file outside SRC; with ``overwrite`` it may also replace the
    preview that the synthesis in ``out`` wrote (its marker records the path)."""
    if preview.suffix.lower() not in PREVIEW_SUFFIXES:
        raise UsageError(f"--preview {preview}: the file name must end in .png, .jpg or .jpeg")
    preview_r = preview.resolve()
    if preview_r == src_r or src_r in preview_r.parents:
        raise InputError(preview, f"preview would be written over or inside the source {src_r}")
    if preview_r == out.resolve():
        raise InputError(preview, "preview and output folder are the same path")
    if preview.exists() or preview.is_symlink():
        earlier = (read_marker(out) or {}).get("preview") if overwrite else None
        if not (preview.is_file() and earlier == str(preview_r)):
            raise InputError(
                preview,
                "exists; a preview is written only to a new path (or, with --overwrite, over "
                "the preview of the synthesis it replaces)",
            )


def read_marker(root: str | Path) -> dict | None:
    """The marker a synthesis leaves in OUT and in each split folder; None where there is none.

    It is written with ``complete: false`` before the first sample and rewritten with
    ``complete: true`` once every manifest is in place, so an interrupted run is recognisable;
    a marker that cannot be read counts as an unfinished run. OUT's marker also records the
    preview path, which a later ``--overwrite`` may replace.
    """
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {"complete": False}
    return data if isinstance(data, dict) else {"complete": False}


def _write_markers(out: Path, splits: set[str], complete: bool, preview: Path | None) -> None:
    for root in sorted({out} | {_root(out, name) for name in splits}):
        data = {"tool": "facedeblur synth", "complete": complete}
        if root == out and preview is not None:
            data["preview"] = str(preview.resolve())
        atomic_write_text(root / MARKER, json.dumps(data, sort_keys=True) + "\n")


def _real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _remove_files(folder: Path, pattern: re.Pattern) -> None:
    """Remove the plain files in ``folder`` whose names match, then the folder if it is empty."""
    if not _real_dir(folder):
        return
    for path in folder.iterdir():
        if pattern.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            path.unlink()
    _remove_if_empty(folder)


def _remove_if_empty(folder: Path) -> None:
    if not any(folder.iterdir()):
        folder.rmdir()


def _clear_previous_output(out: Path) -> None:
    """Remove what an earlier synthesis wrote in ``out`` and its marked split folders: files
    named as samples, manifests, markers, and the folders this leaves empty. Nothing else."""
    splits = [d for d in sorted(out.iterdir()) if _real_dir(d) and read_marker(d) is not None]
    for root in [out] + splits:
        for part in ("blur", "sharp", "kernel"):
            _remove_files(root / part, SAMPLE_FILE)
        frames = root / "frames"
        if _real_dir(frames):
            for folder in frames.iterdir():
                if SAMPLE_ID.fullmatch(folder.name):
                    _remove_files(folder, FRAME_FILE)
            _remove_if_empty(frames)
        for name in ("manifest.jsonl", MARKER):
            target = root / name
            if target.is_file() and not target.is_symlink():
                target.unlink()
        if root != out:
            _remove_if_empty(root)


def _groups_for_images(src: Path, images: list[Path]) -> tuple[list[str], str | None]:
    """Person key of each image: its folder below SRC (LFW layout); flat folders have none."""
    keys = [str(p.parent.relative_to(src)) for p in images]
    if len(set(keys)) == 1:
        return [
            str(p.relative_to(src)) for p in images
        ], f"{src}: no person folders, so the split is by image"
    return keys, None


def _plan(
    src: Path,
    settings: SampleSettings,
    count: int | None,
    seed: int,
    split: dict[str, float] | None,
):
    """List sources and their groups, then pick a source, split and seed for every sample."""
    notes: list[str] = []
    if settings.mode != "frames":
        if src.is_file():
            if not is_image_file(src):
                raise InputError(src, "not an image file")
            sources, groups = [src], [src.name]
        else:
            sources = list_images(src)
            if not sources:
                raise InputError(src, "no images found (expected .png, .jpg, ... files)")
            groups, note = _groups_for_images(src, sources)
            if note and split:
                notes.append(note)
    else:
        sources = find_clips(src)
        if not sources:
            raise InputError(src, "no videos or folders of frames found")
        groups = [str(p) for p in sources]
    n = len(sources)
    count = n if count is None else count
    if not 1 <= count <= MAX_COUNT:
        raise UsageError(f"--count must be in 1..{MAX_COUNT}, got {count}")
    assignment = assign_splits(groups, split, seed) if split else None
    perm_rng = np.random.default_rng([seed, 0xC0DE])
    jobs: list[_Job] = []
    order: list[int] = []
    for i in range(count):
        if i % n == 0:
            order = list(perm_rng.permutation(n)) if n > 1 else [0]
        k = int(order[i % n])
        source = sources[k]
        split_name = assignment[groups[k]] if assignment else ""
        jobs.append(
            _Job(i, f"{i:06d}_{_safe_stem(source)}", split_name, source, sample_seed(seed, i))
        )
    return jobs, notes


def _root(out: Path, split: str) -> Path:
    return out / split if split else out


def _write_sample(out: Path, job: _Job, sample: Sample, settings: SampleSettings) -> dict:
    root = _root(out, job.split)
    files = {"blur": f"blur/{job.sample_id}.png", "sharp": f"sharp/{job.sample_id}.png"}
    write_image(root / files["blur"], sample.blur)
    write_image(root / files["sharp"], sample.sharp)
    if sample.kernel is not None:
        files["kernel"] = f"kernel/{job.sample_id}.npy"
        files["kernel_png"] = f"kernel/{job.sample_id}.png"
        save_array(root / files["kernel"], sample.kernel.astype(np.float32))
        write_image(
            root / files["kernel_png"], (sample.kernel / sample.kernel.max()).astype(np.float32)
        )
    if sample.frames is not None:
        files["frames"] = [f"frames/{job.sample_id}/{t:02d}.png" for t in range(len(sample.frames))]
        for rel, frame in zip(files["frames"], sample.frames):
            write_image(root / rel, frame)
    return {
        "id": job.sample_id,
        "index": job.index,
        "split": job.split or None,
        "mode": settings.mode,
        "source": str(job.source.resolve()),
        "seed": job.seed,
        "size": settings.size,
        **sample.record,
        "files": files,
        "settings": settings_to_dict(settings),
    }


def settings_to_dict(settings: SampleSettings) -> dict:
    """JSON-ready form of sample settings (stored in every manifest line).

    ``blur.length_distribution`` is written only when it is not ``uniform``, the one distribution
    manifests knew before the setting existed, so a line made with those settings reads the same
    as before, and ``settings_from_dict`` reads a line without it as ``uniform``. ``motion``
    is written only in face-motion mode, the one mode it shapes.
    """
    data = dataclasses.asdict(settings)
    if data["blur"]["length_distribution"] == "uniform":
        del data["blur"]["length_distribution"]
    if settings.mode != "face-motion":
        del data["motion"]
    return data


def settings_from_dict(data: dict) -> SampleSettings:
    """Inverse of ``settings_to_dict``."""
    blur = dict(data["blur"])
    blur["trajectory"] = TrajectoryParams(**blur["trajectory"])
    blur["exposure"] = tuple(blur["exposure"])
    if blur.get("jpeg_quality") is not None:
        blur["jpeg_quality"] = tuple(blur["jpeg_quality"])
    rest = {k: v for k, v in data.items() if k != "blur"}
    rest["frame_counts"] = tuple(rest["frame_counts"])
    if "motion" in rest:
        rest["motion"] = FaceMotionSettings(**rest["motion"])
    return SampleSettings(blur=KernelBlurSettings(**blur), **rest)


def resynthesize(record: dict, source: str | Path | None = None) -> Sample:
    """Rebuild a sample from its manifest line alone (source file, settings and seed).

    Frames-mode samples reuse the line's crop box and FMR order, face-motion samples its crop box
    and landmarks, so no face detection runs:
    a machine with the source videos and the manifest can rebuild the samples byte for byte
    instead of copying them. ``source`` is where the source file is now, when it has moved.
    """
    settings = settings_from_dict(record["settings"])
    source = Path(source if source is not None else record["source"])
    if settings.mode == "kernel":
        return kernel_sample(read_image(source), source, record["seed"], settings)
    if settings.mode == "face-motion":
        return render_face_motion_sample(
            read_image(source), record["crop"], record["landmarks"], record["seed"], settings
        )
    indices = window_frames(record["start"], record["num_frames"], settings)
    window = _window_images(open_clip(source).read(indices), indices, source)
    return render_frames_sample(
        window, record["crop"], record.get("fmr"), record["start"], record["seed"], settings
    )


def _window_images(
    frames: dict[int, np.ndarray], indices: list[int], source: Path
) -> list[np.ndarray]:
    """The decoded frames of a window in order.

    ``InputError`` when the clip ends before one of them.
    """
    missing = [i for i in indices if i not in frames]
    if missing:
        raise InputError(
            source,
            f"frame {missing[0]} of window {indices[0]}..{indices[-1]} cannot be read "
            "(the clip ends earlier than its container says, or has changed)",
        )
    return [frames[i] for i in indices]


class _Results:
    """Manifest lines of written samples, plus the pixels of the first few for the preview."""

    def __init__(self, keep: int):
        self.keep = keep
        self.lines: dict[int, tuple[_Job, dict]] = {}
        self.kept: dict[int, Sample] = {}

    def add(self, job: _Job, sample: Sample, line: dict) -> None:
        self.lines[job.index] = (job, line)
        self.kept[job.index] = sample
        if len(self.kept) > self.keep:
            del self.kept[max(self.kept)]

    def preview_samples(self) -> list[Sample]:
        return [self.kept[i] for i in sorted(self.kept)]


class _Problems:
    """Collects per-sample problems, one line per distinct message."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    def add(self, message: str) -> None:
        self.counts[message] = self.counts.get(message, 0) + 1

    def lines(self) -> list[str]:
        return [m if c == 1 else f"{m} ({c} samples)" for m, c in self.counts.items()]


def _run_image_jobs(jobs, settings, out, problems, notes, records, bar):
    make = kernel_sample if settings.mode == "kernel" else face_motion_sample
    for job in jobs:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ImageConversionWarning)
                img = read_image(job.source)
            for w in caught:
                if issubclass(w.category, ImageConversionWarning):
                    notes.add(str(w.message))
            sample = make(img, job.source, job.seed, settings)
            records.add(job, sample, _write_sample(out, job, sample, settings))
        except (InputError, ValueError, cv2.error) as exc:
            problems.add(str(exc) if isinstance(exc, InputError) else f"{job.source}: {exc}")
        bar.update(1)
        bar.set_postfix(skipped=sum(problems.counts.values()))


def _once(cache: dict, key, fn, *args):
    """``fn(*args)`` computed once per ``key``; a problem it raises is kept and raised again."""
    if key not in cache:
        try:
            cache[key] = fn(*args)
        except (InputError, ValueError, cv2.error) as exc:
            cache[key] = exc
    if isinstance(cache[key], Exception):
        raise cache[key]
    return cache[key]


def _decoded_windows(
    clip: Clip, windows: dict[int, tuple[int, int]], settings: SampleSettings, problems: _Problems
) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
    """``(job index, {clip index: frame})`` for every planned window, decoding the clip once.

    A window comes as soon as its last frame is decoded, and a frame is let go once every window
    that uses it has come, so only the frames of windows in progress are held (a few dozen),
    never the whole clip. Windows reaching past the end of the stream come last, with the frames
    it has; a clip that cannot be read is one problem, and then every window comes empty.
    """
    indices = {i: window_frames(start, n, settings) for i, (start, n) in windows.items()}
    by_end = sorted(indices, key=lambda i: (indices[i][-1], i))
    last_use = {f: indices[i][-1] for i in by_end for f in indices[i]}
    live: dict[int, np.ndarray] = {}
    done = 0
    try:
        for index, frame in clip.stream(last_use):
            live[index] = frame
            while done < len(by_end) and indices[by_end[done]][-1] <= index:
                yield by_end[done], live
                done += 1
            for f in [f for f in live if last_use[f] <= index]:
                del live[f]
    except InputError as exc:
        problems.add(str(exc))
    for i in by_end[done:]:
        yield i, live


def _run_frames_jobs(jobs, settings, out, problems, notes, records, bar):
    """Make the frames-mode samples clip by clip, each clip decoded once (``_decoded_windows``).

    Windows are rendered in the order their frames arrive; problems and notes are still listed
    in sample order. Windows with the same middle frame share its face detection, and windows
    with the same frames also their FMR: both depend on the frames alone.
    """
    by_clip: dict[Path, list[_Job]] = {}
    for job in jobs:
        by_clip.setdefault(job.source, []).append(job)
    for source, clip_jobs in by_clip.items():
        try:
            clip = open_clip(source)
        except InputError as exc:
            for _ in clip_jobs:
                problems.add(str(exc))
            bar.update(len(clip_jobs))
            continue
        windows = {}
        for job in clip_jobs:
            try:
                windows[job.index] = plan_window(clip.num_frames, job.seed, settings, source)
            except InputError as exc:
                problems.add(str(exc))
        by_index = {job.index: job for job in clip_jobs}
        crops: dict = {}
        analysed: dict = {}
        outcomes: dict[int, tuple[_Problems, str]] = {}
        for index, frames in _decoded_windows(clip, windows, settings, problems):
            job, (start, n) = by_index[index], windows[index]
            try:
                indices = window_frames(start, n, settings)
                window = _window_images(frames, indices, source)
                crop = _once(crops, indices[n // 2], window_crop, window, source, start, settings)
                crop, fmr = _once(
                    analysed, (start, n), analyse_window, window, source, start, settings, crop
                )
                sample = render_frames_sample(window, crop, fmr, start, job.seed, settings)
                records.add(job, sample, _write_sample(out, job, sample, settings))
            except LowMotionError as exc:
                outcomes[index] = (notes, str(exc))
            except (InputError, ValueError, cv2.error) as exc:
                message = str(exc) if isinstance(exc, InputError) else f"{source}: {exc}"
                outcomes[index] = (problems, message)
            bar.update(1)
            bar.set_postfix(skipped=sum(problems.counts.values()))
        for job in clip_jobs:
            if job.index in outcomes:
                collector, message = outcomes[job.index]
                collector.add(message)
        bar.update(len(clip_jobs) - len(windows))


def _preview_rows(
    samples: list[Sample], mode: str, cell: int
) -> tuple[list[list[np.ndarray]], list[str]]:
    rows = []
    # Kernels share one scale on the sheet, so their sizes can be compared.
    support = max((s.kernel.shape[0] for s in samples if s.kernel is not None), default=1)
    for s in samples[:PREVIEW_ROWS]:
        sharp, blur = s.sharp.astype(np.float32) / 255.0, s.blur.astype(np.float32) / 255.0
        if mode == "kernel":
            pad = (support - s.kernel.shape[0]) // 2
            rows.append([sharp, kernel_to_image(np.pad(s.kernel, pad), cell), blur])
        else:
            first, last = (s.frames[i].astype(np.float32) / 255.0 for i in (0, -1))
            # Where the picture changed: the moving face lights up, a static background stays dark.
            change = heatmap(np.abs(blur - sharp).mean(axis=2), vmax=0.25)
            rows.append([first, sharp, last, blur, change])
    titles = (
        ["sharp", "kernel", "blurred"]
        if mode == "kernel"
        else ["first frame", "sharp (middle)", "last frame", "blurred", "|blurred - sharp|"]
    )
    return rows, titles


def write_preview(path: str | Path, samples: list[Sample], mode: str, cell: int = 160) -> Path:
    """Contact sheet of samples.

    Columns: sharp | kernel | blurred, or first | middle | last frame | blurred | change.
    """
    rows, titles = _preview_rows(samples, mode, cell)
    if not rows:
        raise FaceDeblurError("no samples were written, so there is no preview")
    return write_image(path, contact_sheet(rows, titles, cell=cell))


def synthesize(
    src: str | Path,
    out: str | Path,
    settings: SampleSettings = SampleSettings(),
    *,
    count: int | None = None,
    seed: int = 0,
    split: dict[str, float] | None = None,
    preview: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> SynthReport:
    """Build a paired blurred/sharp dataset from sharp faces (kernel and face-motion modes) or
    videos (frames mode).

    Args:
        src: an image, a folder of images (person sub-folders split by person), a video, or
            a folder of videos / frame folders (frames mode). Never written to.
        out: output root (must not be inside ``src``).
        settings: output size, crop, blur and frame settings.
        count: samples to make; default one per source. Sources are cycled in a seeded
            order when ``count`` exceeds them, each time with a fresh blur.
        seed: run seed; the same seed gives byte-identical output.
        split: fractions per split name, e.g. {"train": 0.9, "val": 0.1}, by group.
        preview: path of a contact sheet of the first samples (.png or .jpg); must not exist
            unless it is the preview of the synthesis that ``overwrite`` replaces.
        overwrite: replace an earlier synthesis in ``out`` (a folder holding synth's marker).
        progress: show a progress bar on stderr.

    Returns:
        A ``SynthReport``; problems with single files are listed there instead of raised.
    """
    src, out = Path(src), Path(out)
    preview = Path(preview) if preview is not None else None
    if seed < 0:
        raise UsageError("--seed must be non-negative")
    _check_paths(src, out, preview, overwrite)
    jobs, plan_notes = _plan(src, settings, count, seed, split)
    if out.exists():
        _clear_previous_output(out)
    splits = {job.split for job in jobs}
    _write_markers(out, splits, False, preview)
    report = SynthReport(out=out, requested=len(jobs), notes=list(plan_notes))
    problems, notes = _Problems(), _Problems()
    records = _Results(PREVIEW_ROWS)
    with tqdm(
        total=len(jobs), desc=f"synth ({settings.mode})", unit="sample", disable=not progress
    ) as bar:
        if settings.mode != "frames":
            _run_image_jobs(jobs, settings, out, problems, notes, records, bar)
        else:
            _run_frames_jobs(jobs, settings, out, problems, notes, records, bar)
    report.skipped = problems.lines()
    report.notes += notes.lines()
    done = [records.lines[i] for i in sorted(records.lines)]
    for split_name in sorted({job.split for job, _ in done}):
        lines = [json.dumps(line, sort_keys=True) for job, line in done if job.split == split_name]
        atomic_write_text(_root(out, split_name) / "manifest.jsonl", "\n".join(lines) + "\n")
        report.written[split_name or "all"] = len(lines)
    if preview is not None and done:
        report.preview = write_preview(preview, records.preview_samples(), settings.mode)
    _write_markers(out, splits, True, preview)
    return report
