"""CelebA's 40 face attributes by name, and which of them obfuscation flips by default or protects.

Names are matched case-insensitively, so ``pointy_nose`` and ``Pointy_Nose`` are the same
attribute; the canonical spelling is CelebA's own (the header of ``list_attr_celeba.txt``).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import UsageError

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)
"""The 40 attributes in CelebA's column order (the order of the classifier's outputs)."""

DEFAULT_FLIPS = ("Pointy_Nose", "Smiling", "Young", "Big_Nose")
"""The attributes flipped when none are named: the seed paper's four."""

PROTECTED = (
    "Male",
    "5_o_Clock_Shadow",
    "Goatee",
    "Mustache",
    "No_Beard",
    "Sideburns",
    "Heavy_Makeup",
    "Wearing_Lipstick",
)
"""Gender-linked attributes.

Flipping them changes the apparent gender, so only an explicit request may.
"""

ALL = "all"
"""The name that selects every attribute (the protected ones only when allowed)."""


def attribute_index(name: str) -> int:
    """Column of an attribute name (case-insensitive).

    ``UsageError`` listing the names if unknown.
    """
    lowered = {a.lower(): k for k, a in enumerate(CELEBA_ATTRIBUTES)}
    key = name.strip().lower()
    if key not in lowered:
        raise UsageError(
            f"unknown attribute {name!r}; valid attributes: "
            f"{', '.join(a.lower() for a in CELEBA_ATTRIBUTES)}"
        )
    return lowered[key]


def resolve_flips(
    names: Iterable[str] | None = None, allow_protected: bool = False
) -> tuple[int, ...]:
    """Attribute columns to flip, sorted: ``DEFAULT_FLIPS`` for None, every attribute for ``all``.

    Raises:
        UsageError: an unknown name, an empty list, or a protected (gender-linked) attribute
            named without ``allow_protected``.
    """
    names = list(DEFAULT_FLIPS if names is None else names)
    if [n.strip().lower() for n in names] == [ALL]:
        return tuple(
            k for k, a in enumerate(CELEBA_ATTRIBUTES) if allow_protected or a not in PROTECTED
        )
    if not names:
        raise UsageError("no attributes to flip; name at least one, or 'all'")
    columns = sorted({attribute_index(n) for n in names})
    blocked = [CELEBA_ATTRIBUTES[k] for k in columns if CELEBA_ATTRIBUTES[k] in PROTECTED]
    if blocked and not allow_protected:
        raise UsageError(
            f"{', '.join(b.lower() for b in blocked)}: gender-linked attribute(s) are protected; "
            "allow them explicitly to flip them"
        )
    return tuple(columns)
