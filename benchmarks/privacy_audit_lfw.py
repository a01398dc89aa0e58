"""The privacy audit on LFW people the default deblurring model never saw. Prints one table.

Held-out people: the person split the model's training made, rebuilt from its weights header
(``data.train``, ``data.validation.val_fraction`` and ``split_seed``, through the training
code's own ``person_split``). Among them, a person with two or more photos gives one probe
(their first photo, sorted by name) and the rest go to the gallery; a person with one photo
is a gallery distractor. The protocol is written as two folders of symbolic links
(OUT/protocol/gallery, OUT/protocol/probes) and audited with ``facedeblur.privacy_audit``; the
report goes to OUT/report, so the same run can be repeated with
``facedeblur privacy-audit --gallery OUT/protocol/gallery --probes OUT/protocol/probes ...``.

    python benchmarks/privacy_audit_lfw.py --out runs/privacy-audit-lfw
    # a quick check
    python benchmarks/privacy_audit_lfw.py --out /tmp/audit --people 6 --distractors 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections import defaultdict
from pathlib import Path

from facedeblur.errors import FaceDeblurError
from facedeblur.io import list_images
from facedeblur.models.weights import default_model_path, read_weights
from facedeblur.privacy.attribute_model import load_attribute_obfuscator
from facedeblur.privacy.audit import privacy_audit
from facedeblur.splits import person_split

REPO = Path(__file__).resolve().parents[1]
DEFAULT_METHODS = ["attributes", "blur", "pixelate", "motion-blur"]


def held_out_people(model: Path, lfw: Path | None) -> tuple[dict[str, list[Path]], str]:
    """(held-out person -> sorted photos, a line saying how the split was rebuilt); relative paths
    are the repository's.
    """
    header, _ = read_weights(model)
    data = header.get("data") or {}
    validation = data.get("validation") or {}
    root = lfw or REPO / data.get("train", "../shared/data/lfw/images")
    if validation.get("val"):
        files = list_images(REPO / validation["val"])
        how = f"the model's explicit validation folder {validation['val']}"
    else:
        fraction, seed = (
            float(validation.get("val_fraction", 0.1)),
            int(validation.get("split_seed", 0)),
        )
        _, files = person_split(root, fraction, seed)
        how = (
            f"person split of {root} with val_fraction {fraction}, split_seed {seed} "
            f"(from {model.name}'s header)"
        )
    people = defaultdict(list)
    for path in files:
        people[path.parent.name].append(path)
    return {name: sorted(paths) for name, paths in sorted(people.items())}, how


def write_protocol(
    people: dict[str, list[Path]], out: Path, count: int | None, distractors: int | None
) -> tuple[Path, Path]:
    """Gallery and probe folders of symbolic links: first photo of each multi-photo person is its
    probe.
    """
    multi = [name for name, paths in people.items() if len(paths) >= 2][:count]
    single = [name for name, paths in people.items() if len(paths) == 1][:distractors]
    if out.exists():
        shutil.rmtree(out)
    gallery, probes = out / "gallery", out / "probes"
    for name in multi + single:
        paths = people[name]
        links = (
            ([(probes, paths[0])] + [(gallery, p) for p in paths[1:]])
            if name in multi
            else [(gallery, paths[0])]
        )
        for folder, path in links:
            (folder / name).mkdir(parents=True, exist_ok=True)
            os.symlink(path.resolve(), folder / name / path.name)
    print(
        f"protocol: {len(multi)} probe people (first photo each), "
        f"{sum(len(people[n]) - 1 for n in multi)} of their other photos and "
        f"{len(single)} one-photo distractors in the gallery"
    )
    return gallery, probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, required=True, help="protocol folders and report go here"
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="deblurring weights: the attack and the split (default: shipped)",
    )
    parser.add_argument(
        "--lfw",
        type=Path,
        default=None,
        help="LFW images root (default: the one in the model's header)",
    )
    parser.add_argument(
        "--method",
        dest="methods",
        action="append",
        default=None,
        help=(
            f"repeatable (default: {' '.join(DEFAULT_METHODS)}; "
            "attributes dropped when its networks are missing)"
        ),
    )
    parser.add_argument(
        "--people",
        type=int,
        default=None,
        help="only the first N held-out people with several photos",
    )
    parser.add_argument(
        "--distractors",
        type=int,
        default=None,
        help="only the first N one-photo people (default all)",
    )
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--classifier",
        type=Path,
        default=None,
        help="attribute classifier weights (default: shipped)",
    )
    parser.add_argument(
        "--rebuilder",
        type=Path,
        default=None,
        help="face rebuild network weights (default: shipped)",
    )
    args = parser.parse_args()

    model = args.model or default_model_path()
    people, how = held_out_people(model, args.lfw)
    print(f"held-out people: {len(people)} ({how})")
    methods, obfuscator = args.methods or list(DEFAULT_METHODS), None
    if "attributes" in methods:
        try:
            obfuscator = load_attribute_obfuscator(args.classifier, args.rebuilder)
        except FaceDeblurError as exc:
            if args.methods:
                sys.exit(f"error: {exc}")
            print(f"note: attributes left out, its networks are missing: {exc}", file=sys.stderr)
            methods.remove("attributes")
    gallery, probes = write_protocol(people, args.out / "protocol", args.people, args.distractors)
    try:
        report = privacy_audit(
            gallery,
            probes,
            methods,
            args.out / "report",
            strength=args.strength,
            seed=args.seed,
            model=args.model,
            obfuscator=obfuscator,
        )
    except FaceDeblurError as exc:
        sys.exit(f"error: {exc}")
    print(report.report.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
