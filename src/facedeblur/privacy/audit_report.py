"""Report of the privacy audit.

A Markdown table, CSV files, a bar plot of the rates and a contact sheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..evaluate.tables import format_value, plot_png, write_csv
from ..io import atomic_write_bytes, atomic_write_text, write_image
from ..io.sheets import contact_sheet

if TYPE_CHECKING:
    from .audit_report import AuditReport

PER_PROBE_FIELDS = [
    "probe",
    "person",
    "method",
    "attacked",
    "nn_person",
    "nn_distance",
    "nn_correct",
    "classifier_person",
    "classifier_correct",
    "context_ssim",
    "found",
    "score",
    "obfuscation_missed",
]
"""Columns of ``per_probe.csv``: one row per probe and version.

The versions are the original, each method and each attacked method.
"""

SUMMARY_FIELDS = [
    "method",
    "probes",
    "nn_correct",
    "nn_top1",
    "classifier_probes",
    "classifier_correct",
    "classifier_top1",
    "attack_nn_top1",
    "attack_classifier_top1",
    "context_ssim",
    "detector_found",
    "detector_confidence",
    "obfuscation_missed",
]
"""Columns of ``audit.csv``: one row per method (``audit.summarise``)."""

RATES = (
    ("nn_top1", "NN top-1"),
    ("classifier_top1", "classifier top-1"),
    ("attack_nn_top1", "NN top-1 after deblurring"),
    ("attack_classifier_top1", "classifier after deblurring"),
)
"""The identification rates of the table and the plot: summary key, label."""


def _rate(value, attacked: bool) -> str:
    return format_value(value, 1, percent=True) if attacked else "-"


def markdown(report: AuditReport, gallery: str, probes: str) -> str:
    """The audit as Markdown.

    Setup, one table row per method (``original`` first), the probes left out.
    """
    people = report.classifier_people
    ids = f"{len(people)} identities" if people else "n/a"
    lines = [
        "# facedeblur privacy audit",
        "",
        f"Gallery `{gallery}`: {report.gallery_photos} photos of {report.gallery_people} people. "
        f"Probes `{probes}`: {report.summary[0]['probes']} audited"
        + (
            f", {report.unknown} not (no other photo of their person in the gallery)"
            if report.unknown
            else ""
        )
        + f". Face of each probe: the largest {report.detector} face of the original "
        "photo; the same box is used for every version of it. Obfuscation strength "
        f"{report.strength:g}, seed {report.seed}.",
        "",
        "- NN top-1: the nearest gallery face (dlib descriptors) is the probe's person; "
        "closed set, a probe's own file is never in its gallery; chance is about 1 in "
        f"{report.gallery_people}.",
        f"- classifier top-1: linear softmax classifier over the {ids} with the most gallery "
        "photos, on their probes"
        + (
            f" ({report.summary[0]['classifier_probes']} probes)."
            if people
            else "; fewer than two gallery people."
        ),
        "- after deblurring: the attack; the obfuscated face at the original's box restored by "
        f"{report.attack_model or 'no model (attack off)'} and pasted back, then identified.",
        "- context SSIM: windows wholly outside the face masks, obfuscated vs original "
        "(1 = background untouched).",
        f"- found / confidence: {report.detector} still finds the face "
        "(IoU >= 0.5 with the original's box) on the obfuscated photo; mean score of those "
        "detections.",
        "- missed: probes whose face the obfuscation did not hide "
        "(it found no face, or no mask covers the face centre).",
        "",
        f"| method | probes | NN top-1 | classifier top-1 ({ids}) | NN top-1 after deblurring | "
        f"classifier after deblurring | context SSIM | {report.detector} found | "
        f"{report.detector} confidence | missed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, s in enumerate(report.summary):
        attacked = s["method"] in report.attacked
        lines.append(
            f"| {s['method']} | {s['probes']} | {format_value(s['nn_top1'], 1, True)} | "
            f"{format_value(s['classifier_top1'], 1, True)} | "
            f"{_rate(s['attack_nn_top1'], attacked)} | "
            f"{_rate(s['attack_classifier_top1'], attacked)} | "
            f"{'reference' if k == 0 else format_value(s['context_ssim'], 4)} | "
            f"{format_value(s['detector_found'], 1, True)} | "
            f"{format_value(s['detector_confidence'], 4)} | "
            f"{'-' if k == 0 else s['obfuscation_missed']} |"
        )
    if report.skipped:
        lines += ["", f"Left out ({len(report.skipped)}):", ""] + [
            f"- {line}" for line in report.skipped[:50]
        ]
    lines += [
        "",
        "Files: `audit.csv` (this table), `per_probe.csv`, `audit_rates.png`, `audit_cases.png` "
        "(original | each method | each attacked method; NN hit or miss under each).",
        "",
    ]
    return "\n".join(lines)


def _plot(report: AuditReport, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s["method"] for s in report.summary]
    x = np.arange(len(names))
    width = 0.8 / len(RATES)
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(names), 3.8))
    for k, (key, label) in enumerate(RATES):
        values = [100 * s[key] if s[key] is not None else np.nan for s in report.summary]
        ax.bar(x + (k - (len(RATES) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylim(0, 105)
    ax.set_ylabel("identified (%)")
    ax.set_title("Identification of obfuscated faces (lower hides more)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    atomic_write_bytes(out / "audit_rates.png", plot_png(fig))
    plt.close(fig)


def write_audit_report(
    report: AuditReport, out: str | Path, gallery: str | Path, probes: str | Path
) -> Path:
    """Write the audit report into ``out``; returns audit.md.

    Writes ``audit.md``, ``audit.csv``, ``per_probe.csv``, ``audit_rates.png`` and
    ``audit_cases.png``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "audit.csv", report.summary, SUMMARY_FIELDS)
    write_csv(out / "per_probe.csv", report.rows, PER_PROBE_FIELDS)
    _plot(report, out)
    if report.cases.get("images"):
        sheet = contact_sheet(
            report.cases["images"],
            report.cases["titles"],
            cell=144,
            captions=report.cases["captions"],
        )
        write_image(out / "audit_cases.png", sheet)
    return atomic_write_text(out / "audit.md", markdown(report, str(gallery), str(probes)))


@dataclass
class AuditReport:
    """Everything the audit measured, and where its report went.

    ``rows``: one dict per probe and version (``audit_report.PER_PROBE_FIELDS``); ``summary``: one
    dict per method, ``original`` first (``summarise``); ``skipped``: one line per gallery photo or
    probe left out for a problem (unreadable, no face); ``unknown``: probes not audited because
    the gallery holds no other photo of their person (not a problem: the closed-set protocol);
    ``cases``: the pictures of the contact sheet (``titles`` and per probe ``images`` and
    ``captions``); ``classifier_people``: the classifier's identities, None when the gallery has
    fewer than two people.
    """

    methods: list[str]
    attacked: list[str]
    detector: str
    gallery_photos: int
    gallery_people: int
    classifier_people: list[str] | None
    rows: list[dict] = field(default_factory=list)
    summary: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unknown: int = 0
    cases: dict = field(default_factory=dict)
    strength: float = 1.0
    seed: int = 0
    attack_model: str | None = None
    report: Path | None = None
