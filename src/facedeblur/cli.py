"""The ``facedeblur`` command: argument parsing only; the work happens in the library."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from .blur.face_motion import MAX_AMPLITUDE
from .blur.kernels import LENGTH_DISTRIBUTIONS
from .blur.pipeline import FULL_SHAKE_RANGE
from .blur.samples import SampleSettings
from .commands.batch import MAX_MARGIN, MAX_MIN_FACE
from .commands.deblur import MAX_TILE, MIN_TILE
from .errors import FaceDeblurError, UsageError, number_problem
from .faces.dlib_faces import IDENTITY_BACKENDS
from .io.video import MAX_FPS
from .models.runtime import DEVICES, MAX_THREADS, default_threads, resolve_device, set_threads
from .privacy.classical import MAX_STRENGTH, MIN_STRENGTH
from .restore.moments import MAX_FRAMES
from .restore.onnx_export import MAX_OPSET, MIN_OPSET

EXIT_PARTIAL = 1
EXIT_BAD_INPUT = 2
EXIT_NOTHING_DONE = 3
EXIT_INTERRUPTED = 130
MIN_EXPORT_SIDE, MAX_EXPORT_SIDE = 16, 2048
MAX_SEED = 2**32 - 1
# The help of the options every command shares (tests/test_cli_grammar.py compares them).
OUT_RULES = "never inside an input folder; refused when not empty unless --overwrite"
OVERWRITE_HELP = (
    "replace what an earlier run wrote in OUT (without it, an OUT that is not empty is refused)"
)
DEVICE_HELP = (
    "where the networks run: auto (CUDA when available, else the CPU), cpu or cuda (default auto)"
)
VERBOSE_HELP = "more detail on stderr: device, threads, time per input and in all"
QUIET_HELP = "no progress bar"

log = logging.getLogger("facedeblur")


def _batch_exit(skipped: list[str], done: int | None = None) -> int:
    """List a batch's problems on stderr, one per line; return the exit code.

    0 without problems, 3 when ``done`` (inputs whose outputs are there) is 0, else 1.
    """
    if not skipped:
        return 0
    print(f"skipped {len(skipped)} problem(s):", file=sys.stderr)
    for line in skipped:
        print(f"  {line}", file=sys.stderr)
    return EXIT_NOTHING_DONE if done == 0 else EXIT_PARTIAL


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of the command."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _bounded(kind: type, low: float, high: float, low_open: bool = False):
    """An argparse type: a finite ``kind`` in [low, high] ((low, high] with ``low_open``)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        problem = number_problem(value, low, high, low_open)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


def _tile(text: str) -> int:
    """An argparse type: 0 (never tile) or a tile side in [64, 8192] pixels."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value != 0 and not MIN_TILE <= value <= MAX_TILE:
        raise argparse.ArgumentTypeError(
            f"expected 0 (whole image) or a tile side in [{MIN_TILE}, {MAX_TILE}], got {text!r}"
        )
    return value


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _range(kind):
    def parse(text: str):
        parts = text.split(",")
        try:
            values = [kind(p) for p in parts]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected LOW,HIGH or a single value, got {text!r}"
            ) from None
        if len(values) == 1:
            values = values * 2
        if len(values) != 2 or values[0] > values[1]:
            raise argparse.ArgumentTypeError(f"expected LOW,HIGH with LOW <= HIGH, got {text!r}")
        return tuple(values)

    return parse


def _add_out(p, what: str, required: bool = True, default: Path | None = None) -> None:
    """``-o/--out OUT``: ``what`` says what OUT is for this command; the rules are shared."""
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        required=required,
        default=default,
        metavar="OUT",
        help=f"{what}; {OUT_RULES}",
    )


def _add_overwrite(p) -> None:
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def _add_runtime(p, device: bool = True) -> None:
    """``--device`` (unless the command runs on the CPU only) and ``--threads``."""
    if device:
        p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)
    p.add_argument(
        "--threads",
        type=_bounded(int, 1, MAX_THREADS),
        default=None,
        help=f"CPU threads for the networks, 1 to {MAX_THREADS} (default: half the cores, "
        f"at most 4; {default_threads()} here)",
    )


def _add_verbosity(p) -> None:
    """``-v/--verbose`` and ``--quiet``, which exclude each other."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    group.add_argument("--quiet", action="store_true", help=QUIET_HELP)


def _add_synth(sub) -> None:
    p = sub.add_parser(
        "synth",
        help="make paired blurred/sharp faces from sharp images (kernel, face-motion) or videos "
        "(frames)",
        description="Synthesize motion-blurred faces. Writes OUT/blur, OUT/sharp (GoPro layout), "
        "OUT/kernel or OUT/frames, and OUT/manifest.jsonl. face-motion moves a still face by its "
        "dlib landmarks (head and expression) and averages the sub-frames. An OUT that is not "
        "empty must hold an earlier synthesis, which --overwrite replaces.",
    )
    p.add_argument(
        "src",
        type=Path,
        help="image, folder of images (person sub-folders), video, or folder of videos",
    )
    _add_out(p, "output folder")
    p.add_argument(
        "--mode",
        choices=("kernel", "frames", "face-motion"),
        default="kernel",
        help="blur by kernels, by averaging video frames, or by averaging sub-frames of a still "
        "face moved by its landmarks",
    )
    p.add_argument("--size", type=int, default=128, help="output side in pixels (default 128)")
    p.add_argument(
        "--count", type=int, default=None, help="samples to make (default: one per source)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="run seed; same seed, same bytes (default 0)"
    )
    p.add_argument(
        "--crop",
        choices=("center", "face"),
        default=None,
        help="centred square, or detected face with margin "
        "(default: center for kernel, face for frames and face-motion)",
    )
    p.add_argument(
        "--margin",
        type=float,
        default=SampleSettings.margin,
        help="with --crop face: space around dlib's face box on every side, as a fraction of "
        f"its larger side ({SampleSettings.margin:g}: the framing of MTCNN's box with "
        "deblur --faces --margin 0.5, which the shipped models were trained on)",
    )
    p.add_argument(
        "--kernel",
        choices=("shake", "linear", "gaussian"),
        default="shake",
        help="kernel family (default shake)",
    )
    p.add_argument(
        "--max-length",
        type=float,
        default=FULL_SHAKE_RANGE.max_length,
        help="trajectory length L_max in px at a 512 px image, scaled to --size (120)",
    )
    p.add_argument(
        "--exposure",
        type=_range(float),
        default=FULL_SHAKE_RANGE.exposure,
        help="range LOW,HIGH of the exposure fraction e; the blur path is e * L_max (0.125,1.0)",
    )
    p.add_argument(
        "--length-distribution",
        choices=LENGTH_DISTRIBUTIONS,
        default=FULL_SHAKE_RANGE.length_distribution,
        help="how e is drawn: log-uniform (each doubling of length equally likely; default) "
        "or uniform",
    )
    p.add_argument(
        "--kernel-size",
        type=int,
        default=None,
        help="odd kernel support in px (default: fit the trajectory)",
    )
    p.add_argument(
        "--noise-scale",
        type=float,
        default=2.0 / 255.0,
        help="noise sigma ~ |N(0, s^2)| per image; 0 for none (2/255)",
    )
    p.add_argument(
        "--jpeg",
        type=_range(int),
        default=None,
        help="JPEG re-compression quality range LOW,HIGH (default off)",
    )
    p.add_argument(
        "--gamma",
        type=float,
        default=2.2,
        help="camera response gamma; blur happens in linear light (2.2)",
    )
    p.add_argument(
        "--frame-counts",
        type=_int_list,
        default=(5, 7, 9, 11, 13),
        help="frame (or face-motion sub-frame) counts N to average (5,7,9,11,13)",
    )
    p.add_argument(
        "--frame-step",
        type=int,
        default=1,
        help="average every STEP-th frame: N frames then span (N-1)*STEP+1 frames of the clip (1)",
    )
    p.add_argument(
        "--min-motion",
        type=float,
        default=0.0,
        help="frames mode: leave out windows whose left eye moves less than this many px "
        "at --size (0: keep all)",
    )
    for part, what in (
        ("head", "rotation, shift, scale, yaw"),
        ("mouth", "lips, jaw, lip corners"),
        ("eyes", "blink closure"),
    ):
        p.add_argument(
            f"--{part}",
            type=_bounded(float, 0.0, MAX_AMPLITUDE),
            default=1.0,
            help=f"face-motion: multiple of the default {part} motion ({what}), 0 to "
            f"{MAX_AMPLITUDE:g} (1)",
        )
    p.add_argument(
        "--add-shake",
        action="store_true",
        help="face-motion: add camera shake (--max-length, --exposure) on top of the face motion",
    )
    p.add_argument(
        "--split",
        default=None,
        help="e.g. train=0.9,val=0.1: split by person folder or clip, never by image",
    )
    p.add_argument(
        "--preview",
        type=Path,
        default=None,
        help="write a contact sheet (sharp | kernel | blurred) here",
    )
    _add_overwrite(p)
    _add_verbosity(p)


def _run_synth(args) -> int:
    from .blur import KernelBlurSettings, SampleSettings, TrajectoryParams, synthesize
    from .blur.checks import SettingError
    from .blur.face_motion import FaceMotionSettings
    from .splits import parse_split

    # Settings whose option is not the field name with dashes.
    renamed = {"support": "kernel-size", "jpeg_quality": "jpeg"}

    try:
        blur = KernelBlurSettings(
            kernel=args.kernel,
            max_length=args.max_length,
            exposure=args.exposure,
            length_distribution=args.length_distribution,
            support=args.kernel_size,
            gamma=args.gamma,
            noise_scale=args.noise_scale,
            jpeg_quality=args.jpeg,
            trajectory=TrajectoryParams(),
        )
        settings = SampleSettings(
            mode=args.mode,
            size=args.size,
            crop=args.crop or ("center" if args.mode == "kernel" else "face"),
            motion=FaceMotionSettings(
                head=args.head, mouth=args.mouth, eyes=args.eyes, shake=args.add_shake
            ),
            margin=args.margin,
            blur=blur,
            frame_counts=args.frame_counts,
            frame_step=args.frame_step,
            min_motion=args.min_motion,
        )
    except SettingError as exc:
        option = renamed.get(exc.setting, exc.setting.replace("_", "-"))
        raise UsageError(f"--{option} {exc.problem}") from None
    split = parse_split(args.split) if args.split else None
    report = synthesize(
        args.src,
        args.out,
        settings,
        count=args.count,
        seed=args.seed,
        split=split,
        preview=args.preview,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    per_split = ", ".join(f"{k} {v}" for k, v in report.written.items())
    print(
        f"wrote {report.total_written} of {report.requested} samples to {report.out} "
        f"({per_split or 'none'})"
    )
    if report.preview:
        print(f"preview: {report.preview}")
    return _batch_exit(report.skipped, done=report.total_written)


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo", help="blur a real face photo, restore it with the default model, write a sheet"
    )
    _add_out(p, "output folder (default demo/)", required=False, default=Path("demo"))
    _add_overwrite(p)
    p.add_argument(
        "--model", type=Path, default=None, help="weights to use (default: the shipped model)"
    )
    _add_runtime(p)
    _add_verbosity(p)


def _run_demo(args) -> int:
    from .commands.demo import run_demo

    result = run_demo(args.out, model=args.model, device=args.device, overwrite=args.overwrite)
    print(
        f"face crop PSNR: blurry {result.blurry_psnr:.2f} dB -> "
        f"restored {result.restored_psnr:.2f} dB"
    )
    print(
        f"identity distance to the sharp face (dlib): blurry {result.blurry_identity:.3f} -> "
        f"restored {result.restored_identity:.3f}"
    )
    print(f"wrote {result.blurry}, {result.restored}, {result.sheet}")
    return 0


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a deblurring network from a YAML config or preset",
        description="Train from CONFIG (a YAML file or a preset name) into a new or empty OUT; "
        "a run folder that holds files is continued with --resume, never overwritten. "
        "--device cpu or cuda overrides train.device (auto leaves the config's). Several "
        "processes: torchrun --nproc_per_node N -m facedeblur train CONFIG",
    )
    p.add_argument(
        "config",
        nargs="?",
        default=None,
        help="YAML file or preset name (not needed with --resume)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.steps=500 (repeatable)",
    )
    _add_out(p, "run folder (default OUT_DIR/NAME from the config)", required=False)
    p.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="continue a killed or finished run",
    )
    p.add_argument("--list-presets", action="store_true", help="print the shipped presets and exit")
    _add_runtime(p)
    _add_verbosity(p)


def _run_train(args) -> int:
    from .train import preset_names, train

    if args.list_presets:
        print("\n".join(preset_names()))
        return 0
    if args.config is None and args.resume is None:
        raise UsageError("give a CONFIG (file or preset) or --resume RUN_DIR")
    overrides = list(args.overrides)
    if args.device_choice != "auto":
        overrides.append(f"train.device={args.device_choice}")
    run_dir, metrics = train(args.config, overrides, args.out, args.resume, progress=not args.quiet)
    summary = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
    print(f"run: {run_dir}" + (f" ({summary})" if summary else ""))
    print(f"weights: {run_dir / 'generator.safetensors'}")
    return 0


def _add_face_options(p) -> None:
    """The options of ``--faces``: which detector, the margin around a face, the smallest face."""
    p.add_argument(
        "--detector",
        default="mtcnn",
        help="with --faces: mtcnn | dlib-hog | dlib-cnn | centerface (default mtcnn)",
    )
    p.add_argument(
        "--margin",
        type=_bounded(float, 0.0, MAX_MARGIN),
        default=0.5,
        help="with --faces: space around a face per side, as a fraction, 0 to 4 (0.5)",
    )
    p.add_argument(
        "--min-face",
        type=_bounded(int, 1, MAX_MIN_FACE),
        default=32,
        help="with --faces: leave faces smaller than this many pixels (32)",
    )


def _add_flip_ensemble(p, what: str) -> None:
    """``--flip-ensemble`` of the commands that run a restoring network."""
    p.add_argument(
        "--flip-ensemble",
        action="store_true",
        help=f"average each {what} with that of the mirror image: twice the network time, "
        "a little closer to the sharp face (MODEL_CARD.md)",
    )


def _add_resume_options(p) -> None:
    """``--overwrite``, ``--skip-existing``, ``-v`` and ``--quiet`` of the file batches."""
    _add_overwrite(p)
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave outputs that exist already as they are (restart a stopped batch)",
    )
    _add_verbosity(p)


def _add_deblur(sub) -> None:
    from .restore.memory import DEFAULT_MEMORY_BUDGET, MAX_MEMORY_BUDGET, MIN_MEMORY_BUDGET

    p = sub.add_parser("deblur", help="restore blurred images and videos with a trained model")
    p.add_argument("inputs", nargs="+", type=Path, help="image files, folders or video files")
    _add_out(p, "output folder (or file, for one input image or one video: .mp4)")
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="weights .safetensors, or default-v1 for the first default model "
        "(default: the shipped model); "
        "with --backend onnxruntime also a .onnx",
    )
    _add_runtime(p)
    p.add_argument(
        "--tile",
        type=_tile,
        default=512,
        help="restore larger images in tiles of this side, 64 to 8192 "
        "(0: whole images, if they fit --memory-budget)",
    )
    p.add_argument(
        "--backend",
        default="torch",
        help="torch | onnxruntime (default torch); onnxruntime also runs a .onnx --model",
    )
    p.add_argument(
        "--faces",
        action="store_true",
        help="restore only the detected faces and paste them back (default: the whole image)",
    )
    _add_face_options(p)
    _add_flip_ensemble(p, "result")
    p.add_argument(
        "--save-crops",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --faces: write each face's crop before and after, and side by side, into DIR",
    )
    p.add_argument(
        "--memory-budget",
        type=_bounded(float, MIN_MEMORY_BUDGET, MAX_MEMORY_BUDGET),
        default=DEFAULT_MEMORY_BUDGET,
        metavar="GB",
        help="skip an image whose estimated peak memory is over this many GB, "
        f"{MIN_MEMORY_BUDGET:g} to {MAX_MEMORY_BUDGET:g} (default {DEFAULT_MEMORY_BUDGET:g})",
    )
    _add_resume_options(p)


def _run_deblur(args) -> int:
    from .commands.deblur import deblur_files

    report = deblur_files(
        args.inputs,
        args.out,
        args.model,
        device=args.device,
        tile=args.tile,
        progress=not args.quiet,
        faces=args.faces,
        detector=args.detector,
        margin=args.margin,
        min_face=args.min_face,
        save_crops=args.save_crops,
        backend=args.backend,
        threads=args.threads,
        skip_existing=args.skip_existing,
        overwrite=args.overwrite,
        memory_budget=args.memory_budget,
        flip_ensemble=args.flip_ensemble,
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"restored {len(report.written)} image(s) into {args.out}{_existing(report)}")
    return _batch_exit(report.skipped, report.done)


def _existing(report) -> str:
    """How many outputs a batch left as they were, for its summary line."""
    if not report.existing:
        return ""
    return f" ({len(report.existing)} already there, left as they were)"


def _add_moments(sub) -> None:
    p = sub.add_parser(
        "moments",
        help="restore every sharp moment of blurry faces (CFMD-GAN): frames, GIF, MP4, strip",
        description="Restore N sharp moments of each blurry face with one CFMD-GAN generator "
        "steered by u in [0, 1]. Writes moment_NN.png, moments.gif, moments.mp4, strip.png and "
        "moments.json. A video gives the whole clip in slow motion (moments.mp4, each frame's "
        "moments in turn) or, with --time, the moments of one frame.",
    )
    p.add_argument("inputs", nargs="+", type=Path, help="image files, folders or video files")
    _add_out(p, "output folder (one input: its moments go here; several: one sub-folder each)")
    p.add_argument(
        "--frames",
        type=_bounded(int, 1, MAX_FRAMES),
        default=7,
        help="how many moments, at u = 0 .. 1 evenly, 1 to 64 (default 7)",
    )
    p.add_argument(
        "--u",
        type=_bounded(float, 0.0, 1.0),
        action="append",
        default=None,
        help="restore the moment at this u in [0, 1] instead (repeatable; --u 0.5 is the centre)",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="CFMD-GAN weights .safetensors (default: the shipped model)",
    )
    _add_runtime(p)
    p.add_argument(
        "--faces",
        action="store_true",
        help="restore only the detected faces of each photo and paste them back "
        "(default: the whole image)",
    )
    _add_face_options(p)
    _add_flip_ensemble(p, "moment")
    p.add_argument(
        "--fps",
        type=_bounded(float, 0.0, MAX_FPS, low_open=True),
        default=None,
        help="frames per second of the GIF and MP4, up to 120 "
        "(default 8; a whole video: its own rate)",
    )
    p.add_argument(
        "--time",
        type=_bounded(float, 0.0, float("inf")),
        default=None,
        metavar="SECONDS",
        help="for a video: the moments of the frame shown at this time, not the whole clip",
    )
    p.add_argument(
        "--no-bounce",
        action="store_true",
        help="play the moments forwards only (default: forwards and back)",
    )
    _add_resume_options(p)


def _run_moments(args) -> int:
    from .commands.moments import moments_files

    report = moments_files(
        args.inputs,
        args.out,
        n=args.frames,
        u=args.u,
        model=args.model,
        device=args.device,
        faces=args.faces,
        detector=args.detector,
        margin=args.margin,
        min_face=args.min_face,
        fps=args.fps,
        bounce=not args.no_bounce,
        progress=not args.quiet,
        skip_existing=args.skip_existing,
        overwrite=args.overwrite,
        time=args.time,
        flip_ensemble=args.flip_ensemble,
    )
    print(f"wrote the moments of {len(report.written)} image(s) into {args.out}{_existing(report)}")
    return _batch_exit(report.skipped, report.done)


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure models and baselines side by side; write tables and pictures",
        description="Evaluate methods on blurred/sharp pairs (a facedeblur synth output or a "
        "GoPro-style folder): PSNR, SSIM, identity distance, face-detection failure and "
        "confidence, runtime. With --moments, the N-moment protocol of CFMD-GAN on a frames-mode "
        "synth output.",
    )
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="pairs folder (blur/, sharp/, manifest.jsonl for kernels)",
    )
    p.add_argument(
        "--method",
        dest="methods",
        action="append",
        required=True,
        help="blurry | wiener | richardson-lucy | unsharp | default (the shipped model) | "
        "model:PATH | moments | moments:PATH (a moments model's centre moment, u = 0.5), "
        "flip: before a network's for its flip ensemble, e.g. flip:default (repeatable); "
        "with --moments: moments (shipped CFMD-GAN) | moments:PATH | flip:moments[:PATH] | "
        "blurry | repeat:SPEC",
    )
    p.add_argument(
        "--moments",
        action="store_true",
        help="score N restored moments against the N sharp frames of each frames-mode sample "
        "(Table 4 protocol)",
    )
    p.add_argument(
        "--frame-order",
        choices=("fmr", "time"),
        default="fmr",
        help="with --moments: frames in facial motion-based order (default) or time order",
    )
    p.add_argument(
        "--detector",
        default="mtcnn",
        help="mtcnn | dlib-hog | dlib-cnn | centerface (default mtcnn)",
    )
    _add_out(p, "report folder")
    _add_overwrite(p)
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N pairs")
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="evaluate an unfinished synthesis (no or partial manifest.jsonl) on what it lists",
    )
    p.add_argument(
        "--no-identity", action="store_true", help="skip dlib identity descriptors (faster)"
    )
    p.add_argument(
        "--identity-backend",
        choices=IDENTITY_BACKENDS,
        default="torch",
        help="run dlib's face-recognition network in PyTorch (default: batched, same numbers) "
        "or in dlib",
    )
    _add_runtime(p)
    _add_verbosity(p)


def _run_evaluate(args) -> int:
    from .io.outputs import check_output

    check_output(args.out, [args.data], overwrite=args.overwrite, keep_option="")
    if args.moments:
        return _run_evaluate_moments(args)
    from .evaluate.protocol import evaluate
    from .evaluate.report import write_report

    result = evaluate(
        args.data,
        args.methods,
        args.detector,
        limit=args.limit,
        device=args.device,
        identity=not args.no_identity,
        identity_backend=args.identity_backend,
        progress=not args.quiet,
        allow_incomplete=args.allow_incomplete,
    )
    report = write_report(result, args.out, str(args.data), overwrite=args.overwrite)
    print(report.read_text(encoding="utf-8"))
    return _batch_exit(result.skipped)


def _run_evaluate_moments(args) -> int:
    from .evaluate.moments_protocol import evaluate_moments
    from .evaluate.moments_report import write_moments_report

    result = evaluate_moments(
        args.data,
        args.methods,
        frame_order=args.frame_order,
        limit=args.limit,
        device=args.device,
        identity=not args.no_identity,
        identity_backend=args.identity_backend,
        progress=not args.quiet,
        allow_incomplete=args.allow_incomplete,
    )
    report = write_moments_report(result, args.out, str(args.data), overwrite=args.overwrite)
    print(report.read_text(encoding="utf-8"))
    return _batch_exit(result.skipped)


def _name_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _add_obfuscate(sub) -> None:
    from .privacy.obfuscate import DEFAULT_SMALL_FACES, MIN_FACE, SMALL_FACE_METHODS

    p = sub.add_parser(
        "obfuscate",
        help="hide the identity of every face in photos (attribute rebuild, blur, pixelate, ...)",
        description="Find every face, mask it with an ellipse from its landmarks, and hide it "
        "inside the mask: rebuild it with some CelebA attributes flipped (default) or a classical "
        "obfuscation. Faces smaller than --min-face are hidden inside their box by --small-faces. "
        "Pixels outside the face masks are kept exactly. Each output image gets a NAME.json "
        "sidecar listing its faces, how each was treated and what was flipped. Exit code 1 when "
        "some input was skipped or some found face was left visible. A video's faces are "
        "tracked through the clip and hidden in every frame (an H.264 MP4, audio kept).",
    )
    p.add_argument("inputs", nargs="+", type=Path, help="image files, folders or video files")
    _add_out(p, "output folder (or file, for one input image or one video: .mp4)")
    p.add_argument(
        "--method",
        default="attributes",
        help="attributes | blur | pixelate | blackout | swirl | motion-blur (default attributes)",
    )
    p.add_argument(
        "--attributes",
        type=_name_list,
        default=None,
        metavar="NAMES",
        help="with --method attributes: comma-separated CelebA attributes to flip, "
        "e.g. pointy_nose,smiling, or 'all' (default: pointy_nose,smiling,young,big_nose)",
    )
    p.add_argument(
        "--allow-protected",
        action="store_true",
        help="allow flipping gender-linked attributes (male, goatee, mustache, ...), "
        "off by default",
    )
    p.add_argument(
        "--strength",
        type=_bounded(float, MIN_STRENGTH, MAX_STRENGTH),
        default=1.0,
        help=f"scale of a classical method's effect, {MIN_STRENGTH:g} to {MAX_STRENGTH:g} "
        "(weaker leaves faces recognisable; default 1)",
    )
    p.add_argument(
        "--feather",
        type=_bounded(float, 0.0, float("inf")),
        default=None,
        metavar="PX",
        help="soft edge inside each face mask in pixels, cut to a quarter of the face's width "
        "(default: 5%% of the face's longer axis)",
    )
    p.add_argument(
        "--min-face",
        type=_bounded(int, 1, MAX_MIN_FACE),
        default=MIN_FACE,
        metavar="PX",
        help="faces smaller than this (box side, pixels) are too small for landmarks and get "
        f"--small-faces in their box (default {MIN_FACE}, dlib's reliable size)",
    )
    p.add_argument(
        "--small-faces",
        choices=SMALL_FACE_METHODS,
        default=DEFAULT_SMALL_FACES,
        help="how faces below --min-face are hidden; 'leave' keeps them visible and exits 1 "
        f"(default {DEFAULT_SMALL_FACES})",
    )
    p.add_argument(
        "--seed",
        type=_bounded(int, 0, MAX_SEED),
        default=0,
        help="draws the motion-blur direction (default 0)",
    )
    p.add_argument(
        "--classifier",
        type=Path,
        default=None,
        help="attribute classifier weights (default: the shipped ones)",
    )
    p.add_argument(
        "--rebuilder",
        type=Path,
        default=None,
        help="face rebuild network weights (default: the shipped ones)",
    )
    _add_runtime(p)
    _add_resume_options(p)


def _run_obfuscate(args) -> int:
    from .commands.obfuscate import obfuscate_files

    report = obfuscate_files(
        args.inputs,
        args.out,
        args.method,
        args.attributes,
        args.allow_protected,
        args.strength,
        args.feather,
        args.seed,
        classifier=args.classifier,
        rebuilder=args.rebuilder,
        device=args.device,
        progress=not args.quiet,
        min_face=args.min_face,
        small_faces=args.small_faces,
        skip_existing=args.skip_existing,
        overwrite=args.overwrite,
    )
    small = ""
    if report.too_small:
        how = "left visible" if args.small_faces == "leave" else f"{args.small_faces} in their box"
        small = f" ({report.too_small} too small, under {args.min_face} px: {how})"
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"hid {report.hidden} of {report.found} face(s){small} in {len(report.written)} "
        f"image(s) into {args.out}{_existing(report)} "
        f"({args.method}; faces and how each was treated in each image's .json)"
    )
    code = _batch_exit(report.skipped, report.done)
    if not report.visible:
        return code
    print(f"faces left visible in {len(report.visible)} image(s):", file=sys.stderr)
    for line in report.visible:
        print(f"  {line}", file=sys.stderr)
    return max(code, EXIT_PARTIAL)


def _add_privacy_audit(sub) -> None:
    p = sub.add_parser(
        "privacy-audit",
        help="how much identity each obfuscation leaks to a machine, deblurring as the attack",
        description="Identify the people of original and obfuscated probes with dlib descriptors "
        "(nearest neighbour over a gallery of other photos of the same people, and a linear "
        "classifier over the 20 gallery people with the most photos). Blur-type methods (blur, "
        "motion-blur, pixelate) are also attacked: the default deblurring model restores the face "
        "at the original's box before identification. Folders in LFW layout: "
        "DIR/<Person>/<image>; --probes may be --gallery itself (leave-one-out).",
    )
    p.add_argument(
        "--gallery",
        type=Path,
        required=True,
        help="labelled photos the recognizer knows (DIR/<Person>/<image>)",
    )
    p.add_argument(
        "--probes",
        type=Path,
        required=True,
        help="photos to identify, same layout (may be the gallery folder)",
    )
    p.add_argument(
        "--method",
        dest="methods",
        action="append",
        required=True,
        help="attributes | blur | pixelate | blackout | swirl | motion-blur (repeatable)",
    )
    _add_out(p, "report folder (audit.md, audit.csv, per_probe.csv, pictures)")
    _add_overwrite(p)
    p.add_argument(
        "--people",
        type=int,
        default=None,
        help="only the first N probe people, in probes and gallery alike",
    )
    p.add_argument("--no-attack", action="store_true", help="skip the deblurring attack")
    p.add_argument(
        "--strength",
        type=_bounded(float, MIN_STRENGTH, MAX_STRENGTH),
        default=1.0,
        help=f"scale of the classical methods' effect, {MIN_STRENGTH:g} to {MAX_STRENGTH:g} "
        "(default 1)",
    )
    p.add_argument(
        "--seed",
        type=_bounded(int, 0, MAX_SEED),
        default=0,
        help="run seed: motion-blur directions, classifier start (default 0)",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="the attack's deblurring weights (default: the shipped model)",
    )
    p.add_argument(
        "--detector",
        default="mtcnn",
        help="finds each photo's face: mtcnn | dlib-hog | dlib-cnn | centerface (default mtcnn)",
    )
    p.add_argument(
        "--classifier",
        type=Path,
        default=None,
        help="attribute classifier weights for --method attributes",
    )
    p.add_argument(
        "--rebuilder",
        type=Path,
        default=None,
        help="face rebuild network weights for --method attributes",
    )
    _add_runtime(p)
    _add_verbosity(p)


def _run_privacy_audit(args) -> int:
    from .privacy.audit import privacy_audit

    report = privacy_audit(
        args.gallery,
        args.probes,
        args.methods,
        args.out,
        attack=not args.no_attack,
        people=args.people,
        strength=args.strength,
        seed=args.seed,
        model=args.model,
        detector=args.detector,
        classifier=args.classifier,
        rebuilder=args.rebuilder,
        device=args.device,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(report.report.read_text(encoding="utf-8"))
    return _batch_exit(report.skipped)


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a model to ONNX (dynamic batch and image size)",
        description="Export a generator to ONNX, check it against torch, and write it atomically. "
        "Run it with: facedeblur deblur --backend onnxruntime --model MODEL.onnx",
    )
    _add_out(p, "the .onnx file to write")
    _add_overwrite(p)
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="weights .safetensors (default: the shipped default model)",
    )
    p.add_argument(
        "--size",
        type=_bounded(int, MIN_EXPORT_SIDE, MAX_EXPORT_SIDE),
        default=128,
        help="side of the input the graph is traced on, 16 to 2048 (default 128)",
    )
    p.add_argument(
        "--opset",
        type=_bounded(int, MIN_OPSET, MAX_OPSET),
        default=17,
        help=f"ONNX opset version, {MIN_OPSET} to {MAX_OPSET} (default 17)",
    )
    p.add_argument(
        "--int8",
        choices=["dynamic", "static"],
        default=None,
        help="quantize to int8 with onnxruntime (static needs --calibration); not the default: "
        "slower than float32 and slightly worse on the CPUs measured (docs/speed.md)",
    )
    p.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="for --int8 static: folder of blurry face crops of training people",
    )
    p.add_argument(
        "--calibration-count",
        type=_bounded(int, 1, 4096),
        default=64,
        help="calibration images used, the first by name (default 64)",
    )
    _add_runtime(p, device=False)
    _add_verbosity(p)


def _run_export(args) -> int:
    from .io.outputs import check_output
    from .restore.onnx_export import export_onnx

    inputs = [args.model] if args.model else []
    check_output(args.out, inputs, overwrite=args.overwrite, keep_option="")
    path = export_onnx(
        args.model,
        args.out,
        size=args.size,
        opset=args.opset,
        int8=args.int8,
        calibration=args.calibration,
        calibration_count=args.calibration_count,
    )
    checked = f", then quantized to int8 ({args.int8})" if args.int8 else ""
    print(f"wrote {path} (float32 graph checked against torch{checked})")
    return 0


def _add_serve(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a web page to deblur, restore moments and hide faces (needs facedeblur[web])",
        description="Serve the web page (Gradio): Deblur, Moments and Obfuscate tabs. "
        "It listens on this machine only unless --host says otherwise. See docs/web.md.",
    )
    # The defaults are web.DEFAULT_HOST and DEFAULT_PORT (web imports Gradio, so not from there).
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for every "
        "network interface)",
    )
    p.add_argument("--port", type=_bounded(int, 1, 65535), default=7860, help="port (default 7860)")
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="deblurring weights for the Deblur tab (default: the shipped model)",
    )
    p.add_argument(
        "--moments-model",
        type=Path,
        default=None,
        help="CFMD-GAN weights for the Moments tab (default: the shipped model)",
    )
    _add_runtime(p)
    _add_verbosity(p)


def _run_serve(args) -> int:
    from .web import serve

    serve(
        args.host,
        args.port,
        model=args.model,
        moments_model=args.moments_model,
        device=args.device,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``facedeblur`` command."""
    parser = _Parser(
        prog="facedeblur", description="Motion-blurred faces: synthesis, deblurring, evaluation."
    )
    parser.add_argument("--version", action="version", version=f"facedeblur {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_synth(sub)
    _add_train(sub)
    _add_deblur(sub)
    _add_moments(sub)
    _add_evaluate(sub)
    _add_obfuscate(sub)
    _add_privacy_audit(sub)
    _add_export(sub)
    _add_demo(sub)
    _add_serve(sub)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


COMMANDS = {
    "synth": _run_synth,
    "train": _run_train,
    "deblur": _run_deblur,
    "moments": _run_moments,
    "evaluate": _run_evaluate,
    "demo": _run_demo,
    "export": _run_export,
    "obfuscate": _run_obfuscate,
    "privacy-audit": _run_privacy_audit,
    "serve": _run_serve,
}


class _ProgressSafeHandler(logging.Handler):
    """Log records on stderr as plain lines, printed between the redraws of a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def _set_verbosity(args) -> None:
    """``-v`` shows the library's INFO records (device, threads, time per input) on stderr."""
    if not any(isinstance(h, _ProgressSafeHandler) for h in log.handlers):
        log.addHandler(_ProgressSafeHandler())
    log.setLevel(logging.INFO if getattr(args, "verbose", False) else logging.WARNING)


def _set_runtime(args) -> None:
    """Apply ``--threads`` and resolve ``--device``; ``--device cuda`` without CUDA is refused.

    ``args.device`` becomes ``cpu`` or ``cuda``; ``args.device_choice`` keeps what was asked.
    """
    if not hasattr(args, "threads"):
        return
    log.info("CPU threads: %d", set_threads(args.threads))
    if not hasattr(args, "device"):
        return
    args.device_choice = args.device
    args.device = resolve_device(args.device, getattr(args, "backend", "torch"))
    if args.device_choice == "auto" and args.device == "cpu":
        log.info("device: cpu (auto: CUDA is not available on this machine)")
    else:
        log.info("device: %s", args.device)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a sub-command and return its exit code.

    0 all done, 1 some inputs skipped, 2 bad usage or input (nothing ran), 3 nothing done
    (every input of a batch failed), 130 interrupted. Errors are one line on stderr.

    Called without ``argv`` (the ``facedeblur`` command, ``python -m facedeblur``) it owns the
    process: after Ctrl-C, once every temporary file is gone, it ends the process at once
    (``os._exit(130)``) rather than returning, since torch's interpreter shutdown alone takes
    half a second or more.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad option (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    _set_verbosity(args)
    start = time.perf_counter()
    try:
        _set_runtime(args)
        code = COMMANDS[args.command](args)
        log.info("%s took %.1f s", args.command, time.perf_counter() - start)
        return code
    except FaceDeblurError as exc:
        print(f"facedeblur {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"facedeblur {args.command}: interrupted", file=sys.stderr)
        if argv is None:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
