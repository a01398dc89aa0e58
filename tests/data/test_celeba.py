"""CelebA's attribute and identity files: reading them, splitting by identity."""

from __future__ import annotations

import numpy as np
import pytest

from facedeblur.data import identity_split, read_attributes, read_identities
from facedeblur.errors import InputError

ATTR_FILE = """3
Smiling Young Big_Nose
000001.jpg  1 -1  1
000002.jpg -1 -1  1
"""


def test_read_attributes_maps_minus_one_to_zero(tmp_path):
    path = tmp_path / "attrs.txt"
    path.write_text(ATTR_FILE + "000003.jpg  1  1 -1\n")
    names, table = read_attributes(path)
    assert names == ["Smiling", "Young", "Big_Nose"]
    assert list(table) == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert table["000002.jpg"].dtype == np.int8 and table["000002.jpg"].tolist() == [0, 0, 1]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("000003.jpg  1  1\n", "line 5: expected a file name and 3 values of 1 or -1"),
        ("000003.jpg  1  0 1\n", "line 5: expected a file name and 3 values of 1 or -1"),
        ("000001.jpg  1  1 1\n", "line 5: 000001.jpg appears twice"),
    ],
)
def test_read_attributes_names_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / "attrs.txt"
    path.write_text(ATTR_FILE + bad_line)
    with pytest.raises(InputError, match=message) as info:
        read_attributes(path)
    assert str(info.value).startswith(str(path))


def test_read_attributes_checks_the_count(tmp_path):
    path = tmp_path / "attrs.txt"
    path.write_text(ATTR_FILE)
    with pytest.raises(InputError, match="line 1 announces 3 images but 2 rows follow"):
        read_attributes(path)


def test_identity_split_keeps_each_person_on_one_side(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("".join(f"{i:06d}.jpg {i % 7}\n" for i in range(1, 41)))
    identities = read_identities(path)
    files = list(identities)
    train, val = identity_split(files, identities, 0.3, seed=1)
    assert sorted(train + val) == sorted(files)
    assert not {identities[f] for f in train} & {identities[f] for f in val}
    assert len({identities[f] for f in val}) == 2
    assert identity_split(files, identities, 0.3, seed=1) == (train, val)
    path.write_text("000001.jpg 1\n000002.jpg two\n")
    with pytest.raises(InputError, match="line 2"):
        read_identities(path)
