import pytest

from facedeblur.errors import UsageError
from facedeblur.train import load_config
from facedeblur.train.config import CelebAData, MomentsData, OnTheFlyData, PairedData


def test_each_data_kind_has_its_own_fields(tmp_path):
    assert isinstance(load_config("face-nafnet").data, OnTheFlyData)
    assert isinstance(load_config("cfmd-cpu").data, MomentsData)
    assert isinstance(load_config("attributes-light").data, CelebAData)
    assert isinstance(load_config("rebuild-unet").data, CelebAData)
    path = tmp_path / "paired.yaml"
    path.write_text("name: p\ndata: {kind: paired, train: a, val: b, mix_train: c}\n")
    paired = load_config(path)
    assert isinstance(paired.data, PairedData) and not hasattr(paired.data, "jitter")
    assert (paired.data.val, paired.data.mix_train) == ("b", "c")
    with pytest.raises(UsageError, match="unknown key 'jitter' for data.kind paired"):
        load_config(path, ["data.jitter=0.1"])
    with pytest.raises(UsageError, match="unknown key 'landmarks' for data.kind moments"):
        load_config("cfmd-cpu", ["data.landmarks=x.npz"])
    with pytest.raises(
        UsageError, match="data.kind must be one of onthefly, facemotion, paired, moments"
    ):
        load_config("face-nafnet", ["data.kind=gopro"])
