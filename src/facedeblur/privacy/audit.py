"""The privacy audit: how much identity each obfuscation leaks to a machine.

Deblurring is the attack.

For every probe photo the face is found once, on the ORIGINAL photo (largest face of the
detector); that box is used for every version of the probe, so a recognizer or an attacker
never depends on finding the obfuscated face. Each version (original, each obfuscation, and
for the blur-type obfuscations the obfuscated face run through the deblurring model) is
identified by ``recognizer``'s two protocols: nearest neighbour over the gallery and the
seed's classifier over the 20 gallery people with the most photos.

The attack assumes an attacker who knows where the face is and owns the project's deblurring
model: the face crop at the original probe's box is restored and pasted back
(``photo.restore_faces``), then recognised.

How natural the obfuscated photo stays: SSIM of the context (the windows wholly outside the
union of the face masks: 1 when the background is untouched) and whether the detector still
finds the face (a detection at IoU >= 0.5 with the original's face box) and how confidently.

``privacy_audit`` computes all of it and writes the report (``audit_report.write_audit_report``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import FaceDeblurError, InputError, NoFaceError, UsageError
from ..evaluate.tables import mean_of_known
from ..faces.detect import Detection
from ..io import image_to_tensor
from ..io.outputs import check_output
from ..metrics.detection import match_face
from ..metrics.image import region_ssim
from ..models.runtime import resolve_device
from ..restore.deblurrer import Deblurrer
from ..restore.faces import restore_faces
from ..restore.loading import load_model
from ..splits import sample_seed, spread_indices
from .attribute_model import AttributeObfuscator, load_attribute_obfuscator
from .audit_report import AuditReport, write_audit_report
from .obfuscate import ATTRIBUTES, obfuscate_photo, resolve_options
from .recognizer import ClassifierProtocol, FaceReader, Gallery, Photo, list_people, read_face

ATTACKED_METHODS = ("blur", "motion-blur", "pixelate")
"""Obfuscations that blur the face rather than replace it: the deblurring attack is run on these."""

ORIGINAL = "original"
"""The row of the unobfuscated probes, always first."""

CASES = 4
"""Probes shown on the contact sheet, spread over the probe list."""


def check_methods(methods: Sequence[str], strength: float = 1.0) -> list[str]:
    """The audited methods as a list.

    ``UsageError`` for none, an unknown or repeated one, or a bad strength.
    """
    methods = list(methods)
    if not methods:
        raise UsageError("give at least one obfuscation method to audit")
    for method in methods:
        resolve_options(method, strength=strength)
    if len(set(methods)) != len(methods):
        raise UsageError("each method may be given once")
    return methods


def summarise(rows: list[dict], methods: Sequence[str], attacked: Sequence[str]) -> list[dict]:
    """Per-method results from per-probe rows, ``original`` first.

    Each dict: method, probes (audited), nn_correct, nn_top1 (share of probes whose nearest
    gallery face is their person), classifier_probes (probes of the classifier's people),
    classifier_correct, classifier_top1, the same two rates after the attack (``attack_nn_top1``,
    ``attack_classifier_top1``; None for a method not attacked), context_ssim (mean over probes),
    detector_found (share of probes whose face the detector still finds), detector_confidence
    (mean score of those detections) and obfuscation_missed (probes whose face the obfuscation
    did not hide). Rates over no probe are None.
    """
    summary = []
    for method in [ORIGINAL, *methods]:
        plain = [r for r in rows if r["method"] == method and not r["attacked"]]
        after = [r for r in rows if r["method"] == method and r["attacked"]]
        clf = [r["classifier_correct"] for r in plain if r["classifier_correct"] is not None]
        found = [r for r in plain if r["found"]]
        summary.append(
            {
                "method": method,
                "probes": len(plain),
                "nn_correct": sum(r["nn_correct"] for r in plain),
                "nn_top1": mean_of_known([r["nn_correct"] for r in plain]),
                "classifier_probes": len(clf),
                "classifier_correct": sum(clf),
                "classifier_top1": mean_of_known(clf),
                "attack_nn_top1": mean_of_known([r["nn_correct"] for r in after])
                if method in attacked
                else None,
                "attack_classifier_top1": mean_of_known([r["classifier_correct"] for r in after])
                if method in attacked
                else None,
                "context_ssim": mean_of_known([r["context_ssim"] for r in plain]),
                "detector_found": mean_of_known([r["found"] for r in plain]),
                "detector_confidence": mean_of_known([r["score"] for r in found]),
                "obfuscation_missed": sum(bool(r["obfuscation_missed"]) for r in plain),
            }
        )
    return summary


def _known_face(
    face: Detection, shape_hw: tuple[int, int]
) -> Callable[[np.ndarray], list[Detection]]:
    """A 'detector' that always answers the original probe's face.

    The face is scaled to the image it is given.
    """

    def detect(image: np.ndarray) -> list[Detection]:
        sy, sx = image.shape[0] / shape_hw[0], image.shape[1] / shape_hw[1]
        x0, y0, x1, y1 = face.box
        return [replace(face, box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy), landmarks=None)]

    return detect


class _Auditor:
    """The per-probe work of one audit: obfuscate, attack, identify and measure every version."""

    def __init__(
        self,
        gallery: Gallery,
        protocol: ClassifierProtocol,
        reader: FaceReader,
        obfuscate: Callable,
        obfuscator: AttributeObfuscator | None,
        deblurrer: Deblurrer | None,
        methods: list[str],
        attacked: list[str],
        strength: float,
    ):
        self.gallery, self.protocol, self.reader = gallery, protocol, reader
        self.obfuscate, self.obfuscator, self.deblurrer = obfuscate, obfuscator, deblurrer
        self.methods, self.attacked, self.strength = methods, attacked, strength

    def row(
        self,
        probe: Photo,
        face: Detection,
        original: np.ndarray,
        image: np.ndarray,
        method: str,
        attacked: bool = False,
        mask: np.ndarray | None = None,
        missed: bool = False,
    ) -> dict:
        """Identify one version of a probe and measure how natural it looks."""
        descriptor = self.reader.describe(image, face.box)
        nn_person, nn_distance = self.gallery.nearest(descriptor, probe)
        clf_person = self.protocol.classify(descriptor, probe)
        match = match_face(self.reader.detect(image), face.box)
        context = None
        if mask is not None:
            context = region_ssim(image_to_tensor(image), image_to_tensor(original), ~mask)
        return {
            "probe": str(probe.path),
            "person": probe.person,
            "method": method,
            "attacked": attacked,
            "nn_person": nn_person,
            "nn_distance": nn_distance,
            "nn_correct": nn_person == probe.person,
            "classifier_person": clf_person,
            "classifier_correct": None if clf_person is None else clf_person == probe.person,
            "context_ssim": context,
            "found": match is not None,
            "score": None if match is None else match.score,
            "obfuscation_missed": missed if method != ORIGINAL else None,
        }

    def hide(
        self, image: np.ndarray, face: Detection, method: str, seed: int, label: str
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """(obfuscated image, union face mask, whether the probe's face went unhidden).

        When the obfuscation finds no face, the photo goes out as it is (that is what the
        pipeline would publish); the face also counts as missed when no mask covers its centre.
        """
        try:
            result = self.obfuscate(
                image,
                method=method,
                strength=self.strength,
                seed=seed,
                obfuscator=self.obfuscator,
                label=label,
            )
        except NoFaceError:
            return image, np.zeros(image.shape[:2], dtype=bool), True
        cx = min(max(int((face.box[0] + face.box[2]) / 2), 0), image.shape[1] - 1)
        cy = min(max(int((face.box[1] + face.box[3]) / 2), 0), image.shape[0] - 1)
        return result.image, result.mask, not result.mask[cy, cx]

    def probe(
        self, probe: Photo, image: np.ndarray, face: Detection, seed: int
    ) -> tuple[list[dict], list[np.ndarray]]:
        """All rows of one probe, and its pictures: original, each method, each attacked method."""
        rows = [self.row(probe, face, image, image, ORIGINAL)]
        hidden, attacked = [], []
        for method in self.methods:
            out, mask, missed = self.hide(image, face, method, seed, str(probe.path))
            rows.append(self.row(probe, face, image, out, method, mask=mask, missed=missed))
            hidden.append(out)
            if method in self.attacked:
                restored = restore_faces(
                    out, self.deblurrer, detector=_known_face(face, image.shape[:2])
                ).image
                rows.append(
                    self.row(
                        probe,
                        face,
                        image,
                        restored,
                        method,
                        attacked=True,
                        mask=mask,
                        missed=missed,
                    )
                )
                attacked.append(restored)
        return rows, [image, *hidden, *attacked]


def _load_obfuscator(
    methods: list[str], obfuscator, classifier, rebuilder, device: str
) -> AttributeObfuscator | None:
    """The attribute networks when ``attributes`` is audited.

    A missing network gives an error that names the method.
    """
    if ATTRIBUTES not in methods or obfuscator is not None:
        return obfuscator
    try:
        return load_attribute_obfuscator(classifier, rebuilder, device=device)
    except FaceDeblurError as exc:
        raise FaceDeblurError(
            f"method {ATTRIBUTES} cannot be audited, its networks are missing: {exc}"
        ) from None


def privacy_audit(
    gallery: str | Path,
    probes: str | Path,
    methods: Sequence[str],
    out: str | Path,
    attack: bool = True,
    people: int | None = None,
    strength: float = 1.0,
    seed: int = 0,
    deblurrer: Deblurrer | None = None,
    model: str | Path | None = None,
    detector: str = "mtcnn",
    reader: FaceReader | None = None,
    obfuscate: Callable = obfuscate_photo,
    obfuscator: AttributeObfuscator | None = None,
    classifier: str | Path | None = None,
    rebuilder: str | Path | None = None,
    device: str = "auto",
    progress: bool = True,
    overwrite: bool = False,
) -> AuditReport:
    """Audit obfuscation methods against machine recognition; write the report into ``out``.

    Args:
        gallery: folder of labelled photos in LFW layout (``DIR/<Person>/<image>``).
        probes: folder of the photos to identify, same layout; it may be ``gallery`` itself
            (leave-one-out: a probe's own file is never in its gallery).
        methods: obfuscation methods (``obfuscate.OBFUSCATION_METHODS``); ``original`` is always
            audited too.
        out: report folder (``audit.md``, ``audit.csv``, ``per_probe.csv``, ``audit_cases.png``,
            ``audit_rates.png``).
        attack: run the deblurring attack on the blur-type methods (``ATTACKED_METHODS``).
        people: only the first N people (by name) of the probes, in probes and gallery alike
            (a quick run; a smaller closed set is easier to identify in).
        strength, seed: the classical methods' strength; the run seed (probe k is obfuscated with
            ``sample_seed(seed, k)``, k its place among all probes).
        deblurrer, model: the attack's model, loaded or a weights path (default: the shipped one).
        detector: finds each photo's face (largest) and checks whether obfuscated faces are
            still found.
        reader, obfuscate, obfuscator: a ``FaceReader``, an ``obfuscate_photo``-like function and
            loaded attribute networks, to replace the defaults; ``classifier`` and ``rebuilder``
            are the attribute networks' weights when no ``obfuscator`` is given.
        device: where the networks run: ``auto``, ``cpu`` or ``cuda``.
        progress: show progress bars with an ETA.
        overwrite: allow an ``out`` that is not empty (``io.outputs.check_output``: without
            it such an ``out`` is refused, and ``out`` is never inside ``gallery`` or
            ``probes``); checked before anything runs.

    Gallery photos and probes that cannot be read or show no face are left out and listed in
    ``skipped``; probes whose person has no other gallery photo are counted in ``unknown``.

    Raises:
        UsageError: no, unknown or repeated methods, a bad strength or ``people`` < 1.
        InputError: a missing or empty folder, or nothing left to audit.
        FaceDeblurError: a model a method needs is missing.
    """
    methods = check_methods(methods, strength)
    if people is not None and people < 1:
        raise UsageError(f"people must be at least 1, got {people}")
    gallery_photos, probe_photos = list_people(gallery), list_people(probes)
    check_output(out, [gallery, probes], overwrite=overwrite, keep_option="")
    device = resolve_device(device)
    seeds = {photo.key: sample_seed(seed, k) for k, photo in enumerate(probe_photos)}
    if people is not None:
        chosen = set(sorted({p.person for p in probe_photos})[:people])
        probe_photos = [p for p in probe_photos if p.person in chosen]
        gallery_photos = [p for p in gallery_photos if p.person in chosen]
        if not gallery_photos:
            raise InputError(gallery, f"no photo of the first {people} probe people")
    attacked = [m for m in methods if m in ATTACKED_METHODS] if attack else []
    obfuscator = _load_obfuscator(methods, obfuscator, classifier, rebuilder, device)
    if attacked and deblurrer is None:
        deblurrer = load_model(model, device=device)
    reader = FaceReader(detector) if reader is None else reader
    bank, skipped = Gallery.build(gallery_photos, reader, label=gallery, progress=progress)
    protocol = ClassifierProtocol(bank, seed=seed)
    auditor = _Auditor(
        bank, protocol, reader, obfuscate, obfuscator, deblurrer, methods, attacked, strength
    )
    report = AuditReport(
        methods,
        attacked,
        reader.name,
        len(bank.photos),
        len(set(bank.people.tolist())),
        protocol.people,
        skipped=skipped,
        strength=strength,
        seed=seed,
        attack_model=deblurrer.header.get("preset", "custom model") if attacked else None,
    )
    shown = {probe_photos[i].key for i in spread_indices(len(probe_photos), CASES)}
    report.cases = {
        "titles": [ORIGINAL, *methods, *(f"{m} + deblur" for m in attacked)],
        "images": [],
        "captions": [],
    }
    for probe in tqdm(probe_photos, desc="audit", unit="probe", disable=not progress):
        if not bank.knows(probe):
            report.unknown += 1
            continue
        try:
            image, face = read_face(reader, probe.path)
        except InputError as exc:
            skipped.append(f"probe {exc}")
            continue
        rows, pictures = auditor.probe(probe, image, face, seeds[probe.key])
        report.rows += rows
        if probe.key in shown:
            order = [r for r in rows if not r["attacked"]] + [r for r in rows if r["attacked"]]
            report.cases["images"].append(pictures)
            report.cases["captions"].append(
                [f"NN {'hit' if r['nn_correct'] else 'miss'}" for r in order]
            )
    if not report.rows:
        reason = (
            f"{len(skipped)} left out, first: {skipped[0]}"
            if skipped
            else "none has another photo in the gallery"
        )
        raise InputError(probes, f"no probe could be audited ({reason})")
    report.summary = summarise(report.rows, methods, attacked)
    report.report = write_audit_report(report, out, gallery, probes)
    return report
