"""Training configuration: YAML presets mapped to dataclasses, with ``section.key=value`` overrides.

Every key is checked: an unknown key or a value of the wrong type is a ``UsageError`` naming
the config file and the key, on one line.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..blur.kernels import LENGTH_DISTRIBUTIONS
from ..data.moments import FRAME_ORDERS
from ..errors import UsageError
from ..losses.face_perceptual import PERCEPTUAL_TERMS


@dataclass
class DataConfig:
    """What every kind of training data has: the source, the validation samples, crops and workers.

    ``train`` is the training source (its form depends on ``kind``), ``val_count`` the number of
    validation samples, ``size`` the side faces are brought to and ``crop`` the side of the
    random training crop taken from them (``crop < size``), ``augment`` the augmentation steps
    (see ``data.augment``) and ``workers`` the DataLoader processes.
    """

    kind: str = "onthefly"
    train: str = ""
    val_count: int = 16
    size: int = 128
    crop: int = 128
    augment: list = field(default_factory=lambda: ["flip"])
    workers: int = 0


@dataclass
class KernelBlurFields:
    """Camera-shake blur drawn on the fly (``blur.KernelBlurSettings``) over sharp faces in person
    folders, ``val_fraction`` of the people held out; ``jitter`` randomises the face crop.

    The blur path is e * ``max_length`` (px at 512 px) with e drawn from ``exposure`` by
    ``length_distribution``: ``uniform`` (the default, every shipped preset's recipe) or
    ``log-uniform`` (each doubling of length equally likely). ``max_length: 120``,
    ``exposure: [0.125, 1.0]``, ``length_distribution: log-uniform`` is ``synth``'s default range,
    mild to the seed paper's full strength (``blur.FULL_SHAKE_RANGE``)."""

    val_fraction: float = 0.1
    max_length: float = 60.0
    exposure: tuple = (0.25, 1.0)
    length_distribution: str = "uniform"
    noise_scale: float = 2.0 / 255.0
    jpeg_quality: tuple | None = None
    jitter: float = 0.0


@dataclass
class FaceMotionFields:
    """Still faces moved by a drawn facial motion (``blur.face_motion``): ``head``, ``mouth`` and
    ``eyes`` scale the default amplitudes (0 to 4), ``add_shake`` adds camera shake (the
    kernel-blur fields) on top, N comes from ``frame_counts``, and the crop is the dlib face grown
    by ``margin`` on each side."""

    head: float = 1.0
    mouth: float = 1.0
    eyes: float = 1.0
    add_shake: bool = False
    frame_counts: tuple = (5, 7, 9, 11, 13)
    margin: float = 0.7


@dataclass
class MixFields:
    """Paired folders (e.g. ``facedeblur synth --mode frames`` over videos) mixed into the training
    draws: ``mix_train`` is one folder or a list, ``mix_fraction`` the share of all draws each
    makes up (one number, or a list as long as ``mix_train``); ``mix_val`` (one folder or a list)
    adds ``mix_val_count`` pairs of each to the validation samples."""

    mix_train: str | list = ""
    mix_val: str | list = ""
    mix_fraction: float | list = 0.25
    mix_val_count: int = 0

    def mix_sources(self) -> list[tuple[str, float]]:
        """(training folder, share of all draws) per mixed-in folder; empty without a mix."""
        trains = _as_list(self.mix_train)
        if not trains:
            return []
        fractions = [float(f) for f in _as_list(self.mix_fraction)]
        if len(fractions) != len(trains):
            raise UsageError(
                f"data.mix_fraction: {len(fractions)} fraction(s) for {len(trains)} "
                "data.mix_train folder(s); give one per folder"
            )
        return list(zip(trains, fractions))

    def mix_val_folders(self) -> list[str]:
        """The validation folders of the mix (``mix_val`` as a list)."""
        return _as_list(self.mix_val)


def _as_list(value) -> list:
    """A config value that is one item or a list of them, as a list; ``""`` is the empty list."""
    if isinstance(value, list):
        return [v for v in value if v != ""]
    return [] if value == "" else [value]


@dataclass
class OnTheFlyData(MixFields, KernelBlurFields, DataConfig):
    """``kind: onthefly``: blur the sharp faces under ``train`` (person sub-folders) as they are
    drawn. Validation: the faces under ``val``, or when it is empty ``val_fraction`` of the
    people of ``train``; ``limit`` keeps that many training faces (0: all)."""

    kind: str = "onthefly"
    train: str = "../shared/data/lfw/images"
    val: str = ""
    limit: int = 0


@dataclass
class FaceMotionData(FaceMotionFields, OnTheFlyData):
    """``kind: facemotion``: like ``onthefly``, but each face is blurred by a fresh facial motion
    of its own (``FaceMotionBlur``: head and expression moved by its landmarks, N sub-frames
    averaged); the kernel-blur fields set the exposure range, noise and JPEG (and the shake of
    ``add_shake``). ``jitter`` does not apply: the crop follows the face."""

    kind: str = "facemotion"


@dataclass
class PairedData(MixFields, DataConfig):
    """``kind: paired``: ``blur/`` + ``sharp/`` folders (a ``facedeblur synth`` output or GoPro),
    ``train`` for training and ``val`` (required) for validation."""

    kind: str = "paired"
    val: str = ""


@dataclass
class MomentsData(FaceMotionFields, KernelBlurFields, DataConfig):
    """``kind: moments``: CFMD-GAN on a frames-mode ``facedeblur synth`` output.

    ``train`` and ``val`` are its split folders; each training draw is one (u, sharp moment)
    pair of a blurry face (``MomentPairs``), with frames tied to u in ``frame_order`` (``fmr``
    or ``time``). ``extra_train`` lists further frames-mode split folders pooled with
    ``train``'s. ``centre_fraction`` of the draws pair u = 0.5 with the time-middle frame.
    ``shake_train`` names sharp faces in person sub-folders (LFW) whose training people
    (``val_fraction`` held out) make up ``shake_fraction`` of the draws as camera-shake moments
    (``ShakeMomentPairs``, blurred with the kernel-blur fields, crops jittered by ``jitter``);
    with ``stills: face-motion`` they are face-motion moments instead (``FaceMotionBlur`` with
    the face-motion fields).
    """

    kind: str = "moments"
    val: str = ""
    frame_order: str = "fmr"
    extra_train: list = field(default_factory=list)
    centre_fraction: float = 0.0
    shake_train: str = ""
    shake_fraction: float = 0.5
    stills: str = "shake"


@dataclass
class CelebAData(DataConfig):
    """``kind: attributes`` (the attribute classifier) or ``kind: rebuild`` (the face rebuild
    network): ``train`` is a CelebA root (``images/``, the attribute and identity files),
    ``val_fraction`` of the identities are held out, faces are aligned to ``size`` px crops by
    their dlib landmarks, cached in the ``landmarks`` file (made on first use); ``val_count`` 0
    validates on every held-out face and ``limit`` keeps that many faces (0: all)."""

    kind: str = "attributes"
    train: str = "../shared/data/celeba"
    val_fraction: float = 0.1
    limit: int = 0
    landmarks: str = ""


DATA_KINDS: dict[str, type[DataConfig]] = {
    "onthefly": OnTheFlyData,
    "facemotion": FaceMotionData,
    "paired": PairedData,
    "moments": MomentsData,
    "attributes": CelebAData,
    "rebuild": CelebAData,
}


@dataclass
class NetConfig:
    """A network from the ``models`` table and its keyword arguments.

    ``base_weights`` (``cfmd`` only): a single-image deblurrer's weights file, or ``default`` for
    the shipped default model, built into the generator as its frozen base (``CFMDGenerator``'s
    ``base``).

    ``init_weights``: a weights file of this very network (name and arguments), or a shipped
    deblurrer's name (``default``, ``default-v1``), whose tensors the generator starts from
    instead of a random initialisation (fine-tuning). With both, the base's tensors come from
    ``base_weights``: a trained moments model moves onto another base.
    """

    name: str = "deblurgan"
    args: dict = field(default_factory=dict)
    base_weights: str = ""
    init_weights: str = ""


@dataclass
class LossConfig:
    """Content and adversarial terms.

    total = content_weight * content + adversarial_weight * adversarial.

    CFMD-GAN (``data.kind: moments``) adds ``perceptual_weight`` times the ``perceptual`` term
    (``none``, ``lpips`` or the ``onet`` substitute, built with ``perceptual_args``) and
    ``aux_weight`` times the discriminator's u regression on restored faces to the generator,
    and ``q_weight`` times the u regression on real and restored faces to the discriminator.

    Every method whose network outputs faces (all but ``attributes``) adds
    ``identity_weight`` times the identity term and ``face_feature_weight`` times the
    face-feature term of ``losses.identity.FaceLosses`` (dlib's face-recognition network, in the
    150 px chip aligned on the sharp target's landmarks); 0 leaves a term out.
    """

    content: str = "l1"
    content_args: dict = field(default_factory=dict)
    content_weight: float = 1.0
    adversarial: str = "none"
    adversarial_weight: float = 1.0
    critic_steps: int = 1
    gp_weight: float = 10.0
    perceptual: str = "none"
    perceptual_args: dict = field(default_factory=dict)
    perceptual_weight: float = 0.01
    aux_weight: float = 0.05
    q_weight: float = 0.05
    identity_weight: float = 0.0
    face_feature_weight: float = 0.0


@dataclass
class OptimConfig:
    """Adam for both networks and the learning-rate schedule.

    ``schedule``: ``constant``; ``linear`` (constant, then linearly to 0 from ``decay_start``
    as a fraction of the steps); ``step`` (multiply by ``gamma`` at step ``step_at``).
    """

    lr: float = 1e-4
    d_lr: float = 0.0
    betas: tuple = (0.5, 0.999)
    schedule: str = "constant"
    decay_start: float = 0.5
    step_at: int = 0
    gamma: float = 0.1
    epoch_steps: int = 1000
    grad_clip: float = 0.0


@dataclass
class TrainConfig:
    """Loop length, batching, logging, checkpoints, devices."""

    steps: int = 1000
    batch_size: int = 4
    seed: int = 0
    val_every: int = 200
    ckpt_every: int = 100
    log_every: int = 10
    device: str = "auto"
    ema: float = 0.0
    bf16: bool = True
    channels_last: bool = False


@dataclass
class RunConfig:
    """One training run: what the preset files contain."""

    name: str = "run"
    description: str = ""
    out_dir: str = "runs"
    data: DataConfig = field(default_factory=OnTheFlyData)
    generator: NetConfig = field(default_factory=NetConfig)
    discriminator: NetConfig = field(default_factory=lambda: NetConfig(name=""))
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def preset_names() -> list[str]:
    """Names of the presets shipped with the package."""
    root = importlib.resources.files("facedeblur") / "configs"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _coerce(value, hint, where: str):
    origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint in (int, float):
        if isinstance(value, str):
            # YAML 1.1 reads "5e-4" (no dot) as a string; accept any number Python can parse.
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if hint is int and float(value) != int(value):
                raise UsageError(f"{where}: expected an integer, got {value!r}")
            return hint(value)
    elif hint is str:
        if value is None:  # `--set data.val=` (or `val:` in YAML) clears a path
            return ""
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif hint is tuple or origin is tuple:
        if isinstance(value, (list, tuple)):
            return tuple(value)
    elif hint is list or hint is dict:
        if isinstance(value, hint):
            return value
    elif origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        alternatives = [a for a in typing.get_args(hint) if a is not type(None)]
        for inner in alternatives[:-1]:
            try:
                return _coerce(value, inner, where)
            except UsageError:
                continue
        return _coerce(value, alternatives[-1], where)
    elif dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    raise UsageError(
        f"{where}: expected {getattr(hint, '__name__', hint)}, got {type(value).__name__} {value!r}"
    )


def _build(cls, data, where: str):
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a mapping, got {type(data).__name__}")
    if cls is DataConfig:
        kind = data.get("kind", "onthefly")
        if kind not in DATA_KINDS:
            raise UsageError(f"{where}.kind must be one of {', '.join(DATA_KINDS)}, got {kind!r}")
        cls = DATA_KINDS[kind]
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        kind = (
            f" for {where}.kind {data.get('kind', 'onthefly')}"
            if issubclass(cls, DataConfig)
            else ""
        )
        raise UsageError(
            f"{where}: unknown key '{unknown[0]}'{kind} (valid: {', '.join(sorted(names))})"
        )
    return cls(**{k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()})


def _override(raw: dict, assignment: str) -> None:
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise UsageError(f"--set {assignment!r}: expected section.key=value")
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UsageError(f"--set {assignment!r}: {part} is not a section")
    node[parts[-1]] = yaml.safe_load(text)


def load_config(source: str | Path, overrides: list[str] = ()) -> RunConfig:
    """Read a config file or a preset name, apply ``section.key=value`` overrides, validate."""
    path = Path(source)
    if not path.is_file():
        if str(source) not in preset_names():
            raise UsageError(
                f"{source}: no such config file or preset (presets: {', '.join(preset_names())})"
            )
        path = Path(str(importlib.resources.files("facedeblur") / "configs" / f"{source}.yaml"))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    for assignment in overrides:
        _override(raw, assignment)
    config = _build(RunConfig, raw, "")
    validate(config, str(path))
    return config


def validate(config: RunConfig, where: str) -> None:
    """Check value ranges and choices that types alone cannot."""
    checks = [
        (
            config.optim.schedule in ("constant", "linear", "step", "exponential"),
            "optim.schedule must be constant, linear, step or exponential",
        ),
        (
            config.data.kind != "moments" or config.generator.name == "cfmd",
            "data.kind moments trains generator.name cfmd",
        ),
        (
            config.data.kind != "moments"
            or config.discriminator.name in ("", "unet_discriminator"),
            "data.kind moments needs discriminator.name unet_discriminator (or none)",
        ),
        (
            not config.generator.base_weights or config.generator.name == "cfmd",
            "generator.base_weights needs generator.name cfmd",
        ),
        (
            not config.generator.args.get("anchored") or config.generator.base_weights,
            "generator.args.anchored needs generator.base_weights "
            "(the centre moment is the base's result)",
        ),
        (
            config.loss.perceptual in PERCEPTUAL_TERMS,
            f"loss.perceptual must be one of {', '.join(PERCEPTUAL_TERMS)}",
        ),
        (
            all(
                math.isfinite(w) and w >= 0.0
                for w in (config.loss.identity_weight, config.loss.face_feature_weight)
            ),
            "loss.identity_weight and loss.face_feature_weight must be finite and >= 0",
        ),
        (
            config.data.kind != "attributes"
            or config.loss.identity_weight == config.loss.face_feature_weight == 0.0,
            "data.kind attributes trains a classifier: it has no faces for the face losses",
        ),
        (config.train.steps > 0, "train.steps must be positive"),
        (config.train.batch_size > 0, "train.batch_size must be positive"),
        (config.loss.critic_steps >= 1, "loss.critic_steps must be at least 1"),
        (0.0 <= config.train.ema < 1.0, "train.ema must be in [0, 1)"),
        (config.train.device in ("auto", "cpu", "cuda"), "train.device must be auto, cpu or cuda"),
        (
            config.loss.adversarial == "none" or bool(config.discriminator.name),
            "loss.adversarial needs a discriminator.name",
        ),
    ]
    if isinstance(config.data, KernelBlurFields):
        checks.append(
            (
                config.data.length_distribution in LENGTH_DISTRIBUTIONS,
                f"data.length_distribution must be one of {', '.join(LENGTH_DISTRIBUTIONS)}",
            )
        )
    if isinstance(config.data, MixFields):
        fractions = [f for _, f in config.data.mix_sources()]
        checks.append(
            (
                all(0.0 < f < 1.0 for f in fractions) and sum(fractions) < 1.0,
                "data.mix_fraction: each share must lie in (0, 1) and together below 1",
            )
        )
    if isinstance(config.data, MomentsData):
        checks += [
            (0.0 <= config.data.centre_fraction < 1.0, "data.centre_fraction must lie in [0, 1)"),
            (0.0 < config.data.shake_fraction < 1.0, "data.shake_fraction must lie in (0, 1)"),
            (
                config.data.frame_order in FRAME_ORDERS,
                f"data.frame_order must be one of {', '.join(FRAME_ORDERS)}",
            ),
            (
                config.data.stills in ("shake", "face-motion"),
                "data.stills must be shake or face-motion",
            ),
        ]
    if isinstance(config.data, FaceMotionData):
        checks.append((config.data.jitter == 0.0, "data.jitter does not apply to kind facemotion"))
    for ok, message in checks:
        if not ok:
            raise UsageError(f"{where}: {message}")


def to_dict(config: RunConfig) -> dict:
    """Plain-data form of a config (tuples as lists), as written to a run directory."""

    def plain(v):
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(config))
