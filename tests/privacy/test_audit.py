"""The privacy audit (issue 7): identification bookkeeping on hand-made galleries, the classifier
protocol, bad inputs through the CLI, and small end-to-end runs on real LFW people."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from facedeblur.cli import main
from facedeblur.errors import InputError, NoFaceError
from facedeblur.faces.detect import Detection
from facedeblur.io import write_image
from facedeblur.metrics import region_ssim
from facedeblur.privacy.audit import privacy_audit, summarise
from facedeblur.privacy.recognizer import (
    ClassifierProtocol,
    Gallery,
    Photo,
    SoftmaxClassifier,
    classifier_people,
    list_people,
)
from facedeblur.restore.deblurrer import Deblurrer

# Hand-made faces: 96x96 photos whose 48x48 centre (the "face") has one colour per person;
# the fake recognizer's descriptor is that colour, so every identification is known in advance.
FACE = slice(24, 72)
FACE_BOX = (24.0, 24.0, 72.0, 72.0)
COLOURS = {
    "Anna": (0.9, 0.1, 0.1),
    "Ben": (0.1, 0.9, 0.1),
    "Cleo": (0.1, 0.1, 0.9),
    "Dora": (0.9, 0.9, 0.1),
}
BLACK = (0.0, 0.0, 0.0)


def _photo(path: Path, colour, shade: float = 0.0) -> None:
    img = np.full((96, 96, 3), 0.5, dtype=np.float32)
    img[FACE, FACE] = np.clip(np.array(colour) + shade, 0, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, img)


class FakeReader:
    """Finds a face unless the centre is black; the descriptor is the centre's mean colour."""

    name = "fake"

    def detect(self, image):
        face = image[FACE, FACE]
        return [] if face.max() < 0.05 else [Detection(FACE_BOX, float(face.mean()))]

    def locate(self, image):
        found = self.detect(image)
        return found[0] if found else None

    def describe(self, image, box):
        x0, y0, x1, y1 = (int(v) for v in box)
        return image[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)


@dataclass
class FakeResult:
    image: np.ndarray
    mask: np.ndarray


def fake_obfuscate(image, method, strength, seed, obfuscator, label):
    """blackout: every face painted Ben's colour. blur: each face takes the next person's colour
    (Anna -> Ben -> Cleo -> Anna), except that Cleo's face is not found (NoFaceError). swirl:
    masks a corner instead of the face, which stays as it was."""
    out, mask = image.copy(), np.zeros(image.shape[:2], dtype=bool)
    mask[FACE, FACE] = True
    if method == "swirl":
        return FakeResult(out, np.roll(mask, (40, 40), axis=(0, 1)))
    if method == "blackout":
        out[FACE, FACE] = COLOURS["Ben"]
    else:
        names, person = list(COLOURS)[:3], Path(label).parent.name
        if person == "Cleo":
            raise NoFaceError(label, "no face found")
        out[FACE, FACE] = COLOURS[names[(names.index(person) + 1) % 3]]
    return FakeResult(out, mask)


class CountingIdentity(torch.nn.Module):
    """A 'deblurring model' that changes nothing and records the crops it is given."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        return x


@pytest.fixture()
def hand_made(tmp_path) -> tuple[Path, Path]:
    """Gallery: Anna x2, Ben x2, Cleo x1, Eve x1.
    Probes: Anna, Ben, Cleo, Dora (not in the gallery), Eve (no face).
    """
    gallery, probes = tmp_path / "gallery", tmp_path / "probes"
    for name, count in (("Anna", 2), ("Ben", 2), ("Cleo", 1)):
        for k in range(count):
            _photo(gallery / name / f"{name}_{k + 1}.png", COLOURS[name], shade=0.02 * k)
    _photo(gallery / "Eve" / "Eve_1.png", (0.5, 0.1, 0.5))
    for name, colour in (*COLOURS.items(), ("Eve", BLACK)):
        _photo(probes / name / f"{name}_probe.png", colour, shade=0.01)
    return gallery, probes


def test_audit_bookkeeping_on_a_hand_made_gallery(hand_made, tmp_path):
    gallery, probes = hand_made
    net = CountingIdentity()
    report = privacy_audit(
        gallery,
        probes,
        ["blackout", "blur"],
        tmp_path / "out",
        reader=FakeReader(),
        obfuscate=fake_obfuscate,
        deblurrer=Deblurrer(net, header={"data": {"size": 32}}),
        progress=False,
    )
    assert report.unknown == 1  # Dora has no gallery photo
    assert report.skipped == [f"probe {probes / 'Eve' / 'Eve_probe.png'}: no face found"]
    assert (report.gallery_photos, report.gallery_people, report.classifier_people) == (
        6,
        4,
        ["Anna", "Ben", "Cleo", "Eve"],
    )
    assert report.attacked == ["blur"]
    by_method = {s["method"]: s for s in report.summary}
    assert [s["method"] for s in report.summary] == ["original", "blackout", "blur"]
    original, blackout, blur = by_method["original"], by_method["blackout"], by_method["blur"]
    assert (original["probes"], original["nn_correct"], original["classifier_correct"]) == (3, 3, 3)
    assert original["attack_nn_top1"] is None and original["context_ssim"] is None
    # blackout paints every face Ben's colour: only Ben is named, by both protocols
    assert (blackout["nn_correct"], blackout["nn_top1"]) == (1, pytest.approx(1 / 3))
    assert (blackout["classifier_correct"], blackout["classifier_probes"]) == (1, 3)
    assert blackout["attack_nn_top1"] is None and blackout["obfuscation_missed"] == 0
    # blur swaps Anna and Ben for the next person; Cleo's face is missed and leaks
    assert (blur["nn_correct"], blur["obfuscation_missed"]) == (1, 1)
    assert blur["attack_nn_top1"] == pytest.approx(1 / 3) and blur[
        "attack_classifier_top1"
    ] == pytest.approx(1 / 3)
    assert blackout["context_ssim"] == pytest.approx(1.0) and blackout["detector_found"] == 1.0
    # the attack ran once per audited probe (Cleo's unhidden photo too), on the crop at the
    # original box resized to the model's size from its header
    assert net.shapes == [(1, 3, 32, 32)] * 3
    rows = list(csv.DictReader(open(tmp_path / "out" / "per_probe.csv")))
    assert len(rows) == 3 * 4  # original, blackout, blur, blur attacked
    anna_blur = next(
        r
        for r in rows
        if r["person"] == "Anna" and r["method"] == "blur" and r["attacked"] == "False"
    )
    assert (anna_blur["nn_person"], anna_blur["classifier_person"], anna_blur["nn_correct"]) == (
        "Ben",
        "Ben",
        "False",
    )
    text = (tmp_path / "out" / "audit.md").read_text()
    assert "| original | 3 | 100.0% | 100.0% | - | - | reference |" in text
    assert "| blackout | 3 | 33.3% | 33.3% | - | - | 1.0000 | 100.0% |" in text
    assert (
        "| blur | 3 | 33.3% | 33.3% | 33.3% | 33.3% |" in text and "1 not (no other photo" in text
    )
    for name in ("audit.csv", "audit_rates.png", "audit_cases.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_same_folder_is_leave_one_out(hand_made, tmp_path):
    gallery, _ = hand_made
    report = privacy_audit(
        gallery,
        gallery,
        ["blackout", "swirl"],
        tmp_path / "out",
        reader=FakeReader(),
        obfuscate=fake_obfuscate,
        progress=False,
    )
    original, _, swirl = report.summary
    assert (
        report.unknown == 2 and original["probes"] == 4
    )  # Cleo's and Eve's only photos cannot be identified
    assert original["nn_top1"] == 1.0
    plain = [r for r in report.rows if r["method"] == "original"]
    assert all(r["nn_distance"] > 0.01 for r in plain)  # never its own file (distance 0)
    # Anna and Ben keep one other photo each; the classifier protocol drops the probe's own
    # photo too
    assert original["classifier_probes"] == 4 and original["classifier_top1"] == 1.0
    # a mask that misses the face centre counts as a missed face, and the face leaks
    assert (swirl["obfuscation_missed"], swirl["nn_top1"], report.attacked) == (4, 1.0, [])


def test_nearest_neighbour_never_returns_the_probe_itself(tmp_path):
    a1, a2, b1 = (Photo(tmp_path / n, n[0]) for n in ("A1.png", "A2.png", "B1.png"))
    gallery = Gallery([a1, a2, b1], np.array([[0.0, 0.0], [5.0, 0.0], [1.0, 0.0]]))
    assert gallery.nearest([0.0, 0.0], a1) == ("B", 1.0)  # A1 itself (distance 0) is left out
    assert gallery.nearest([0.0, 0.0], Photo(tmp_path / "new.png", "A")) == ("A", 0.0)
    assert gallery.knows(a2) and not gallery.knows(b1)
    lonely = Gallery([a1], np.zeros((1, 2)))
    assert lonely.nearest([0.0, 0.0], a1) == (None, float("inf"))


def test_classifier_protocol_takes_the_twenty_people_with_most_photos_and_separates_them(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(0.0, 1.0, size=(25, 128))
    photos, rows = [], []
    for k in range(25):
        for j in range(2 + k % 7):  # 2..8 photos: people 5, 12 and 19 have 7, ...
            photos.append(Photo(tmp_path / f"p{k:02d}_{j}.png", f"p{k:02d}"))
            rows.append(centres[k] + rng.normal(0.0, 0.05, 128))
    gallery = Gallery(photos, np.stack(rows))
    counts = {f"p{k:02d}": 2 + k % 7 for k in range(25)}
    expected = sorted(sorted(counts, key=lambda p: (-counts[p], p))[:20])
    assert classifier_people(gallery) == expected
    protocol = ClassifierProtocol(gallery, seed=0)
    assert protocol.people == expected
    outsider = next(p for p in counts if p not in expected)
    assert not protocol.covers(Photo(tmp_path / "x.png", outsider))
    hits = 0
    for person in expected:
        k = int(person[1:])
        probe = Photo(tmp_path / f"{person}_probe.png", person)
        hits += protocol.classify(centres[k] + rng.normal(0.0, 0.05, 128), probe) == person
    assert hits == 20
    # a probe that is the only gallery photo of its class: the class goes with it
    only = Gallery(
        photos[:2] + [Photo(tmp_path / "solo.png", "solo")], np.stack(rows[:2] + [rows[-1]])
    )
    assert not ClassifierProtocol(only).covers(Photo(tmp_path / "solo.png", "solo"))


def test_softmax_classifier_is_seeded_and_needs_two_classes():
    x = np.array([[0.0, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.1]])
    labels = ["a", "a", "b", "b"]
    one, two = SoftmaxClassifier.fit(x, labels, seed=3), SoftmaxClassifier.fit(x, labels, seed=3)
    assert np.array_equal(one.weights, two.weights) and one.predict(x) == labels
    with pytest.raises(ValueError, match="two or more classes"):
        SoftmaxClassifier.fit(x, ["a"] * 4)


def test_summarise_counts_exactly():
    base = {
        "classifier_correct": None,
        "context_ssim": None,
        "found": True,
        "score": 0.5,
        "obfuscation_missed": None,
    }
    rows = [
        {**base, "method": "original", "attacked": False, "nn_correct": True},
        {
            **base,
            "method": "original",
            "attacked": False,
            "nn_correct": False,
            "classifier_correct": True,
        },
        {
            **base,
            "method": "blur",
            "attacked": False,
            "nn_correct": False,
            "found": False,
            "obfuscation_missed": True,
        },
        {**base, "method": "blur", "attacked": True, "nn_correct": True},
    ]
    original, blur = summarise(rows, ["blur"], ["blur"])
    assert (
        original["probes"],
        original["nn_top1"],
        original["classifier_top1"],
        original["classifier_probes"],
    ) == (2, 0.5, 1.0, 1)
    assert (blur["probes"], blur["nn_top1"], blur["attack_nn_top1"], blur["classifier_top1"]) == (
        1,
        0.0,
        1.0,
        None,
    )
    assert (blur["detector_found"], blur["detector_confidence"], blur["obfuscation_missed"]) == (
        0.0,
        None,
        1,
    )


def test_region_ssim_ignores_windows_that_touch_the_masked_part():
    torch.manual_seed(0)
    original = torch.rand(3, 40, 50)
    changed = original.clone()
    changed[:, 10:20, 10:20] = 0.0
    region = np.ones((40, 50), dtype=bool)
    region[10:20, 10:20] = False
    assert region_ssim(changed, original, region) == pytest.approx(1.0, abs=1e-9)
    region[10:20, 15:20] = True  # half the changed square now counts as context
    assert region_ssim(changed, original, region) < 0.99
    assert region_ssim(changed, original, np.zeros((40, 50), dtype=bool)) is None
    with pytest.raises(ValueError, match="region SSIM"):
        region_ssim(changed, original, region[:30])


def test_list_people_needs_person_folders_and_a_gallery_needs_faces(tmp_path):
    _photo(tmp_path / "flat" / "loose.png", BLACK)
    with pytest.raises(InputError, match="folder named after the person"):
        list_people(tmp_path / "flat")
    _photo(tmp_path / "faceless" / "Zed" / "Zed_1.png", BLACK)
    with pytest.raises(InputError, match="no gallery photo with a face"):
        privacy_audit(
            tmp_path / "faceless",
            tmp_path / "faceless",
            ["blur"],
            tmp_path / "out",
            attack=False,
            reader=FakeReader(),
            obfuscate=fake_obfuscate,
            progress=False,
        )


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "no such folder"),
        ("empty", "no images found"),
        ("method", "unknown obfuscation method 'smudge'"),
        ("repeated", "each method may be given once"),
        ("attributes", "method attributes cannot be audited, its networks are missing"),
        ("people", "people must be at least 1"),
    ],
)
def test_bad_inputs_are_one_line_and_exit_2(hand_made, tmp_path, capsys, case, expected):
    gallery, probes = hand_made
    (tmp_path / "empty").mkdir()
    methods = {
        "method": ["smudge"],
        "repeated": ["blur", "blur"],
        "attributes": ["attributes"],
    }.get(case, ["blur"])
    args = [
        "privacy-audit",
        "--gallery",
        str({"missing": tmp_path / "nope", "empty": tmp_path / "empty"}.get(case, gallery)),
        "--probes",
        str(probes),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        "--classifier",
        str(tmp_path / "missing.safetensors"),
    ]
    args += [a for m in methods for a in ("--method", m)] + (
        ["--people", "0"] if case == "people" else []
    )
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1
        and err.startswith("facedeblur privacy-audit: error:")
        and expected in err
    )
    assert not (tmp_path / "out").exists()


@pytest.fixture()
def lfw_three(tmp_path, lfw_people) -> Path:
    """Three real LFW people, two photos each."""
    root = tmp_path / "lfw"
    for person in lfw_people[:3]:
        (root / person.name).mkdir(parents=True)
        for img in sorted(person.glob("*.jpg"))[:2]:
            shutil.copy(img, root / person.name / img.name)
    return root


@pytest.mark.slow
def test_cli_end_to_end_on_real_lfw_people(lfw_three, tmp_path, capsys):
    out = tmp_path / "report"
    code = main(
        [
            "privacy-audit",
            "--gallery",
            str(lfw_three),
            "--probes",
            str(lfw_three),
            "--method",
            "pixelate",
            "--method",
            "blur",
            "--out",
            str(out),
            "--quiet",
            "--people",
            "2",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "| original | 4 | 100.0% |" in printed
    summary = {r["method"]: r for r in csv.DictReader(open(out / "audit.csv"))}
    assert list(summary) == ["original", "pixelate", "blur"]
    assert float(summary["pixelate"]["context_ssim"]) == pytest.approx(
        1.0, abs=1e-6
    )  # background kept
    assert summary["blur"]["attack_nn_top1"] != "" and summary["pixelate"]["attack_nn_top1"] != ""
    assert len(list(csv.DictReader(open(out / "per_probe.csv")))) == 4 * 5
    for name in ("audit.md", "audit_rates.png", "audit_cases.png"):
        assert (out / name).stat().st_size > 0

    no_attack = tmp_path / "no-attack"
    assert (
        main(
            [
                "privacy-audit",
                "--gallery",
                str(lfw_three),
                "--probes",
                str(lfw_three),
                "--method",
                "blackout",
                "--out",
                str(no_attack),
                "--quiet",
                "--no-attack",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(no_attack / "per_probe.csv")))
    assert len(rows) == 6 * 2 and not any(r["attacked"] == "True" for r in rows)
