"""Per-attribute accuracy of an attribute classifier on CelebA identities it never saw.
Prints one table.

    python benchmarks/attribute_accuracy.py                       # the shipped classifier
    python benchmarks/attribute_accuracy.py --weights runs/attributes-light/best.safetensors

The held-out faces are rebuilt from the weights header (CelebA root, crop size, identity split
fraction and seed), so they are exactly the faces validation used during training. Beside each
attribute's accuracy is the accuracy of always answering its more frequent value in the
training faces: the floor a classifier has to beat.
"""

from __future__ import annotations

from celeba_held_out import load_held_out
from facedeblur.privacy.attribute_model import ATTRIBUTES_MODEL_FILE
from facedeblur.privacy.attribute_names import CELEBA_ATTRIBUTES
from facedeblur.train.tasks.attributes import score_attributes
from facedeblur.train.tasks.celeba import majority_answers


def main() -> None:
    """Score the classifier and print a Markdown table, smallest gain over the majority answer
    first.
    """
    _, net, _, train, val = load_held_out(
        __doc__.split("\n\n")[0].replace("\n", " "), ATTRIBUTES_MODEL_FILE, "attribute classifier"
    )
    scores = score_attributes(net, [val[i] for i in range(len(val))], majority_answers(train))
    print("| attribute | accuracy | majority answer |\n|---|---|---|")
    order = sorted(
        range(len(CELEBA_ATTRIBUTES)), key=lambda k: scores["accuracy"][k] - scores["majority"][k]
    )
    for k in order:
        print(
            f"| {CELEBA_ATTRIBUTES[k]} | {100 * scores['accuracy'][k]:.2f}% | "
            f"{100 * scores['majority'][k]:.2f}% |"
        )
    print(
        f"| **mean** | **{100 * scores['accuracy'].mean():.2f}%** | "
        f"{100 * scores['majority'].mean():.2f}% |"
    )


if __name__ == "__main__":
    main()
