import numpy as np
import pytest
import torch

from facedeblur.blur import KernelBlurSettings, SampleSettings, synthesize
from facedeblur.data import (
    MixedDataset,
    OnTheFlyBlur,
    PairedFolder,
    RandomFlip,
    VideoMoments,
    build_augmentations,
    scale_saturation,
)
from facedeblur.errors import InputError

ALL_AUGMENTATIONS = [
    "flip",
    "rot90",
    "channel_permute",
    "saturation",
    "noise",
    "rescale",
    {"name": "crop", "size": 96},
]


@pytest.fixture()
def faces(lfw_people):
    return sorted(lfw_people[0].glob("*.jpg"))[:2] + sorted(lfw_people[1].glob("*.jpg"))[:2]


def test_on_the_fly_blur_is_reproducible_per_seed_and_fresh_per_draw(faces):
    a = OnTheFlyBlur(faces, size=64, seed=5)
    b = OnTheFlyBlur(faces, size=64, seed=5)
    c = OnTheFlyBlur(faces, size=64, seed=6)
    first_a, first_b, first_c = a[0], b[0], c[0]
    assert torch.equal(first_a["blur"], first_b["blur"])
    assert torch.equal(first_a["sharp"], first_c["sharp"])
    assert not torch.equal(first_a["blur"], first_c["blur"])
    assert not torch.equal(a[0]["blur"], first_a["blur"]), "a second draw must use a fresh kernel"


def test_epochs_replay_exactly(faces):
    a = OnTheFlyBlur(faces, size=64, seed=1, augment=ALL_AUGMENTATIONS[:5])
    a.set_epoch(3)
    run1 = [a[i]["blur"] for i in range(len(a))]
    a.set_epoch(4)
    other = a[0]["blur"]
    a.set_epoch(3)
    run2 = [a[i]["blur"] for i in range(len(a))]
    assert all(torch.equal(x, y) for x, y in zip(run1, run2))
    assert not torch.equal(other, run1[0])


def _loader_blurs(dataset, workers):
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=workers)
    return torch.cat([batch["blur"] for batch in loader])


def test_epoch_draws_do_not_depend_on_the_workers(faces):
    single = OnTheFlyBlur(faces, size=32, seed=2)
    single.set_epoch(0)
    pooled = OnTheFlyBlur(faces, size=32, seed=2)
    pooled.set_epoch(0)
    assert torch.equal(_loader_blurs(single, 0), _loader_blurs(pooled, 2))


def test_workers_without_epochs_follow_the_torch_seed_and_change_per_epoch(faces):
    ds = OnTheFlyBlur(faces, size=32, seed=2)
    torch.manual_seed(0)
    first = _loader_blurs(ds, 2)
    second = _loader_blurs(ds, 2)
    torch.manual_seed(0)
    assert torch.equal(_loader_blurs(ds, 2), first)
    assert not torch.equal(first, second), "each epoch must draw fresh kernels"


@pytest.fixture()
def synth_root(lfw_tree, tmp_path):
    out = tmp_path / "pairs"
    synthesize(lfw_tree, out, SampleSettings(size=128), count=4, seed=0, progress=False)
    return out


def test_paired_folder_reads_a_synth_output_with_augmentations(synth_root):
    ds = PairedFolder(synth_root, augment=ALL_AUGMENTATIONS, seed=0)
    assert len(ds) == 4
    item = ds[1]
    assert item["blur"].shape == (3, 96, 96) and item["sharp"].shape == (3, 96, 96)
    assert 0.0 <= float(item["blur"].min()) and float(item["blur"].max()) <= 1.0


def test_paired_folder_reports_a_missing_partner(synth_root):
    next((synth_root / "sharp").glob("*.png")).unlink()
    with pytest.raises(InputError, match="no matching sharp image"):
        PairedFolder(synth_root)


def test_geometric_augmentations_keep_pairs_aligned():
    img = torch.rand(3, 40, 40)
    sample = {
        "blur": img.clone(),
        "sharp": img.clone(),
        "frames": img.expand(3, -1, -1, -1).clone(),
    }
    pipeline = build_augmentations(
        ["flip", "rot90", "channel_permute", "saturation", "rescale", {"name": "crop", "size": 32}]
    )
    out = pipeline(sample, torch.Generator().manual_seed(11))
    assert out["blur"].shape == (3, 32, 32) and out["frames"].shape == (3, 3, 32, 32)
    assert torch.equal(out["blur"], out["sharp"])
    assert torch.equal(out["frames"][1], out["sharp"])


def test_augmentations_follow_the_generator():
    img = torch.rand(3, 24, 24)
    pipeline = build_augmentations(ALL_AUGMENTATIONS[:6])

    def run(seed):
        return pipeline(
            {"blur": img.clone(), "sharp": img.clone()}, torch.Generator().manual_seed(seed)
        )

    assert torch.equal(run(1)["blur"], run(1)["blur"])
    assert not torch.equal(run(1)["blur"], run(2)["blur"])


def test_noise_touches_only_the_blurred_input():
    img = torch.full((3, 16, 16), 0.5)
    out = build_augmentations([{"name": "noise", "scale": 0.05}])(
        {"blur": img.clone(), "sharp": img.clone()}, torch.Generator().manual_seed(0)
    )
    assert torch.equal(out["sharp"], img) and not torch.equal(out["blur"], img)


def test_flip_probability_one_mirrors():
    img = torch.arange(12.0).reshape(1, 3, 4).expand(3, -1, -1)
    out = RandomFlip(horizontal=1.0)({"blur": img.clone()}, torch.Generator())
    assert torch.equal(out["blur"], img.flip(-1))


def test_saturation_keeps_hue_and_value():
    img = torch.rand(3, 8, 8) * 0.8 + 0.1
    half = scale_saturation(img, 0.5)
    assert torch.allclose(half.max(0).values, img.max(0).values, atol=1e-6)
    order = img.argsort(0)
    assert torch.equal(half.argsort(0), order)
    value, low = img.max(0).values, img.min(0).values
    sat = (value - low) / value
    new_sat = (half.max(0).values - half.min(0).values) / half.max(0).values
    assert torch.allclose(new_sat, sat * 0.5, atol=1e-5)
    gray = scale_saturation(img, 0.0)
    assert torch.allclose(gray[0], gray[1]) and torch.allclose(gray[1], gray[2])
    assert float(scale_saturation(img, 10.0).min()) >= 0.0


def test_unknown_augmentation_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown augmentation 'blurr'"):
        build_augmentations(["blurr"])
    with pytest.raises(ValueError, match="crop"):
        build_augmentations([{"name": "crop", "width": 3}])


def test_video_moments_returns_the_frames_of_each_blur(short_video, tmp_path):
    out = tmp_path / "moments"
    settings = SampleSettings(
        mode="frames",
        size=64,
        crop="face",
        frame_counts=(5,),
        blur=KernelBlurSettings(noise_scale=0.0),
    )
    synthesize(short_video, out, settings, count=2, seed=0, progress=False)
    ds = VideoMoments(out, num_frames=5)
    item = ds[0]
    assert item["frames"].shape == (5, 3, 64, 64)
    assert torch.equal(item["frames"][2], item["sharp"])
    assert np.allclose(item["times"].numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    with pytest.raises(InputError, match="N=7"):
        VideoMoments(out, num_frames=7)


def test_crop_jitter_moves_and_scales_the_sharp_crop(faces):
    plain = OnTheFlyBlur(faces, size=64, seed=3)
    jittered = OnTheFlyBlur(faces, size=64, seed=3, jitter=0.2)
    plain.set_epoch(0)
    jittered.set_epoch(0)
    sharp_plain, sharp_jittered = plain[0]["sharp"], jittered[0]["sharp"]
    assert sharp_jittered.shape == sharp_plain.shape == (3, 64, 64)
    assert not torch.equal(sharp_plain, sharp_jittered)
    jittered.set_epoch(0)
    assert torch.equal(jittered[0]["sharp"], sharp_jittered), "jitter follows the draw seed"
    with pytest.raises(ValueError, match="jitter"):
        OnTheFlyBlur(faces, size=64, jitter=1.0)


def test_mixed_dataset_draws_the_secondary_at_the_asked_rate(faces, synth_root):
    primary = OnTheFlyBlur(faces * 3, size=128, seed=0)
    secondary = PairedFolder(synth_root, augment=["flip", "rot90"], seed=0)
    ids = sorted(secondary[i]["id"] for i in range(len(secondary)))
    mixed = MixedDataset(primary, secondary, fraction=0.4, seed=1)
    assert len(mixed) == 12 + 8
    mixed.set_epoch(1)
    first_pass = [mixed[12 + i] for i in range(4)]
    second_pass = [mixed[16 + i] for i in range(4)]
    assert sorted(item["id"] for item in first_pass) == ids, (
        "every secondary item before any repeats"
    )
    assert sorted(item["id"] for item in second_pass) == ids
    assert mixed[0]["id"] == faces[0].stem
    again = MixedDataset(primary, secondary, fraction=0.4, seed=1)
    again.set_epoch(1)
    assert all(torch.equal(again[12 + i]["blur"], first_pass[i]["blur"]) for i in range(4)), (
        "draws replay"
    )
    assert len(MixedDataset(primary, secondary, fraction=0.1)) == 12 + 2
    with pytest.raises(ValueError, match="fraction"):
        MixedDataset(primary, secondary, fraction=1.0)
