"""CFMD-GAN end to end: FMR in the synth manifest, moment pairs, training, the moments command, evaluation."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from facedeblur import load_moments_model
from facedeblur.restore import moments
from facedeblur.restore.moments import moments_model_path
from facedeblur.cli import main
from facedeblur.io.video import playback_order
from facedeblur.data import MixedDataset, MomentPairs, ShakeMomentPairs, VideoMoments, frame_order, read_manifest
from facedeblur.errors import FaceDeblurError, InputError, UsageError
from facedeblur.evaluate.moments_protocol import evaluate_moments
from facedeblur.faces.motion_order import motion_order
from facedeblur.models.weights import default_model_path
from facedeblur.io import read_image, write_image
from facedeblur.losses import LPIPSLoss, OnetFeatureLoss, build_perceptual_term
from facedeblur.metrics import psnr
from facedeblur.models import NAFNet
from facedeblur.models.cfmd import CFMDGenerator
from facedeblur.train import MomentsTrainer, load_config, make_trainer
from facedeblur.train.config import OptimConfig
from facedeblur.train.schedule import lr_factor
from facedeblur.models.weights import load_network, read_weights, save_weights

TINY_GENERATOR = {"channels": 8, "blocks": 1, "control_channels": 8, "mapping_layers": 2}


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    torch.manual_seed(0)
    net = CFMDGenerator(**TINY_GENERATOR)
    path = tmp_path_factory.mktemp("cfmd") / "cfmd.safetensors"
    return save_weights(path, net, "cfmd", TINY_GENERATOR, data={"kind": "moments", "size": 64})


# ---------------------------------------------------------------- data
def test_synth_caches_the_fmr_order(moments_root):
    records = read_manifest(moments_root / "train" / "manifest.jsonl")
    assert records
    for record in records:
        fmr = record["fmr"]
        n = record["num_frames"]
        assert sorted(fmr["order"]) == list(range(n))
        assert len(fmr["eyes"]) == n and fmr["eye_points"] == [36, 37, 38, 39, 40, 41]
        assert fmr["order"] == motion_order(fmr["eyes"])
        x0, y0, x1, y1 = record["crop"]["face_box"]
        assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in fmr["eyes"]), "the eye lies inside the face"


def test_moment_pairs_give_the_frame_at_each_u(moments_root):
    root = moments_root / "train"
    ds = MomentPairs(root, seed=4)
    seen = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for index in range(len(ds)):
            item = ds[index]
            record = ds.records[index]
            n = record["num_frames"]
            place = round(float(item["u"]) * (n - 1))
            assert abs(float(item["u"]) * (n - 1) - place) < 1e-5
            frame = read_image(root / record["files"]["frames"][record["fmr"]["order"][place]])
            assert np.allclose(item["sharp"].permute(1, 2, 0).numpy(), frame, atol=1e-6)
            seen.add(place)
    assert len(seen) > 2, "draws cover several places"
    whole = VideoMoments(root, order_by="fmr")[0]
    assert whole["order"].tolist() == ds.records[0]["fmr"]["order"]


def test_centre_draws_pair_u_half_with_the_time_middle_frame_and_folders_pool(moments_root):
    train, val = moments_root / "train", moments_root / "val"
    ds = MomentPairs([train, val], seed=4, centre_fraction=0.5)
    assert len(ds) == len(MomentPairs(train)) + len(MomentPairs(val))
    assert set(ds.roots) == {train, val}
    kinds = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for index in range(len(ds)):
            item, record, folder = ds[index], ds.records[index], ds.roots[index]
            files, n = record["files"], record["num_frames"]
            middle = read_image(folder / files["sharp"])
            assert np.array_equal(middle, read_image(folder / files["frames"][n // 2])), "sharp is the time-middle frame"
            got = item["sharp"].permute(1, 2, 0).numpy()
            place = round(float(item["u"]) * (n - 1))
            moment = read_image(folder / files["frames"][record["fmr"]["order"][place]])
            if float(item["u"]) == 0.5 and np.allclose(got, middle, atol=1e-6) and not np.allclose(got, moment, atol=1e-6):
                kinds.add("centre")
            else:
                assert np.allclose(got, moment, atol=1e-6)
                kinds.add("place")
    assert kinds == {"centre", "place"}, "both kinds of draw occur"


def test_samples_without_fmr_are_left_out_of_fmr_training(moments_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(moments_root / "train", root)
    records = read_manifest(root / "manifest.jsonl")
    records[0]["fmr"] = None
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert len(MomentPairs(root)) == len(records) - 1
    assert len(MomentPairs(root, order_by="time")) == len(records)
    assert len(VideoMoments(root)) == len(records) - 1
    for r in records:
        r["fmr"] = None
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(InputError, match="with an FMR order"):
        MomentPairs(root)


def test_frame_order_time_and_missing_fmr():
    record = {"id": "x", "num_frames": 3, "fmr": {"order": [2, 0, 1]}}
    assert frame_order(record, "fmr") == [2, 0, 1]
    assert frame_order(record, "time") == [0, 1, 2]
    with pytest.raises(InputError, match="no FMR order"):
        frame_order({"id": "y", "num_frames": 3}, "fmr")
    with pytest.raises(ValueError, match="unknown frame order"):
        frame_order(record, "eyes")


# ---------------------------------------------------------------- losses and schedule
def test_onet_substitute_and_lpips_path(lpips_files):
    torch.manual_seed(0)
    target = torch.rand(2, 3, 48, 48)
    output = (target + 0.1 * torch.randn_like(target)).clamp(0, 1).requires_grad_()
    onet = OnetFeatureLoss()
    assert float(onet(target, target)) == 0.0
    loss = onet(output, target)
    loss.backward()
    assert loss.item() > 0 and output.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in onet.parameters())
    lpips = LPIPSLoss(*lpips_files)
    assert float(lpips(target, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(lpips(output.detach(), target)) > 0
    assert build_perceptual_term("none") is None
    with pytest.raises(UsageError, match="unknown perceptual term"):
        build_perceptual_term("vgg")
    with pytest.raises(FaceDeblurError):
        build_perceptual_term("lpips")


def test_exponential_schedule_decays_per_epoch():
    optim = OptimConfig(schedule="exponential", gamma=0.99, epoch_steps=10)
    assert lr_factor(9, 100, optim) == 1.0
    assert lr_factor(10, 100, optim) == pytest.approx(0.99)
    assert lr_factor(25, 100, optim) == pytest.approx(0.99 ** 2)


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("order, stills", [("fmr", True), ("time", False)])
def test_tiny_cfmd_run_has_finite_losses_in_every_term(moments_root, lfw_tree, tmp_path, order, stills):
    shake = [f"data.shake_train={lfw_tree}", "data.shake_fraction=0.5"] if stills else ["data.shake_train="]
    cfg = load_config("cfmd-cpu", shake + [
        f"data.train={moments_root / 'train'}", f"data.val={moments_root / 'val'}", "data.crop=32", "data.val_count=2",
        f"data.frame_order={order}", "generator.args.channels=8", "generator.args.blocks=1",
        "generator.args.control_channels=8", "discriminator.args.channels=8", "discriminator.args.levels=2",
        "train.steps=2", "train.batch_size=2", "train.val_every=2", "train.device=cpu",
        "loss.adversarial=gan", "loss.adversarial_weight=0.1", "loss.aux_weight=0.05",
    ])
    trainer = make_trainer(cfg, tmp_path / "run", progress=False)
    assert isinstance(trainer, MomentsTrainer)
    losses = trainer.train_step(next(trainer.stream))
    for term in ("d_global", "d_pixel", "d_u", "g_adv", "g_u", "perceptual", "content", "g"):
        assert np.isfinite(losses[term]), term
    metrics = trainer.fit()
    assert {"val_psnr", "val_center_psnr", "repeat_psnr", "blurry_psnr"} <= set(metrics)
    header = json.loads(json.dumps(load_moments_model(tmp_path / "run" / "generator.safetensors").header))
    assert header["architecture"] == "cfmd" and header["data"]["frame_order"] == order
    assert ("shake_moments" in header["data"]) == stills
    assert header["base"]["preset"] == "face-nafnet", "the preset builds on the shipped default model"
    if stills:
        assert header["data"]["shake_moments"]["train"] == str(lfw_tree)
        assert isinstance(trainer.stream.dataset, MixedDataset)
        assert isinstance(trainer.stream.dataset.secondary, ShakeMomentPairs)
    assert list((tmp_path / "run" / "samples").glob("val_*.png"))


def test_tiny_cfmd_run_on_a_base_deblurrer_keeps_its_weights(moments_root, tmp_path):
    torch.manual_seed(0)
    nafnet_args = {"width": 8, "enc_blocks": [1, 1, 1], "middle_blocks": 1, "dec_blocks": [1, 1, 1]}
    base_file = save_weights(tmp_path / "base.safetensors", NAFNet(**nafnet_args), "nafnet", nafnet_args,
                             preset="tiny-nafnet", steps=7)
    cfg = load_config("cfmd-cpu", [
        f"data.train={moments_root / 'train'}", f"data.val={moments_root / 'val'}", "data.crop=32", "data.val_count=2",
        "data.shake_train=", f"data.extra_train=[{moments_root / 'val'}]", "data.centre_fraction=0.25",
        "generator.args.channels=8", "generator.args.blocks=1", "generator.args.control_channels=8",
        f"generator.base_weights={base_file}", "generator.args.anchored=true", "loss.adversarial=none",
        "train.steps=2", "train.batch_size=2", "train.val_every=2", "train.device=cpu",
    ])
    trainer = make_trainer(cfg, tmp_path / "run", progress=False)
    assert set(trainer.stream.dataset.roots) == {moments_root / "train", moments_root / "val"}
    assert trainer.stream.dataset.centre_fraction == 0.25
    trainer.fit()
    restorer = load_moments_model(tmp_path / "run" / "generator.safetensors")
    assert restorer.header["data"]["extra_train"] == [str(moments_root / "val")]
    assert restorer.header["data"]["centre_fraction"] == 0.25
    assert restorer.header["base"] == {"weights": str(base_file), "preset": "tiny-nafnet", "steps": 7}
    assert restorer.header["args"]["base"] == {"architecture": "nafnet", "args": nafnet_args}
    trained = restorer.generator.base.state_dict()
    assert all(torch.equal(trained[k], v) for k, v in read_weights(base_file)[1].items()), "the base never trains"
    blurry = read_image(sorted((moments_root / "val" / "blur").glob("*.png"))[0])
    clip = moments(blurry, n=3, model=restorer)
    assert len(clip) == 3
    assert restorer.header["args"]["anchored"] is True
    with torch.no_grad():
        base_result = load_network(base_file)[0](torch.from_numpy(blurry).permute(2, 0, 1)[None]).clamp(0, 1)
    np.testing.assert_allclose(clip[1], base_result[0].permute(1, 2, 0).numpy(), atol=1e-5,
                               err_msg="anchored: the centre moment is the base's result")
    assert np.abs(clip[0] - clip[1]).max() > 1e-5, "the other moments move (a little after 2 steps)"

    with pytest.raises(FaceDeblurError, match="no such weights file"):
        make_trainer(load_config("cfmd-cpu", [f"generator.base_weights={tmp_path / 'missing.safetensors'}"]),
                     tmp_path / "run2", progress=False)


def test_moments_config_is_checked():
    with pytest.raises(UsageError, match="generator.name cfmd"):
        load_config("cfmd-cpu", ["generator.name=nafnet"])
    with pytest.raises(UsageError, match="frame_order"):
        load_config("cfmd-cpu", ["data.frame_order=eyes"])
    with pytest.raises(UsageError, match="base_weights needs generator.name cfmd"):
        load_config("face-nafnet", ["generator.base_weights=default"])
    with pytest.raises(UsageError, match="anchored needs generator.base_weights"):
        load_config("cfmd-cpu", ["generator.base_weights=", "generator.args.anchored=true"])
    assert load_config("cfmd-cpu", ["generator.args.anchored=true"]).generator.args["anchored"] is True
    with pytest.raises(UsageError, match="centre_fraction must lie"):
        load_config("cfmd-cpu", ["data.centre_fraction=1.0"])
    with pytest.raises(UsageError, match="extra_train needs data.kind moments"):
        load_config("face-nafnet", ["data.extra_train=[frames]"])


# ---------------------------------------------------------------- use
def test_playback_order():
    assert playback_order(4, bounce=True) == [0, 1, 2, 3, 2, 1]
    assert playback_order(4, bounce=False) == [0, 1, 2, 3]
    assert playback_order(2, bounce=True) == [0, 1]


def test_moments_command_writes_frames_gif_mp4_and_strip(moments_root, tiny_weights, tmp_path):
    blurry = sorted((moments_root / "val" / "blur").glob("*.png"))[0]
    out = tmp_path / "out"
    assert main(["moments", str(blurry), "-o", str(out), "--frames", "5", "--model", str(tiny_weights), "--quiet"]) == 0
    frames = sorted(out.glob("moment_*.png"))
    assert len(frames) == 5 and read_image(frames[0]).shape == read_image(blurry).shape
    gif = Image.open(out / "moments.gif")
    assert gif.n_frames == 8, "5 moments forwards and 3 back"
    video = cv2.VideoCapture(str(out / "moments.mp4"))
    count = 0
    while video.read()[0]:
        count += 1
    assert count == 8
    assert json.loads((out / "moments.json").read_text())["u"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert read_image(out / "strip.png").shape[1] > 6 * 100

    single = tmp_path / "single"
    assert main(["moments", str(blurry), "-o", str(single), "--u", "0.5", "--model", str(tiny_weights), "--quiet"]) == 0
    assert [p.name for p in sorted(single.glob("moment_*.png"))] == ["moment_00.png"]
    assert not (single / "moments.gif").exists()


def test_moments_batch_reports_bad_files_and_wrong_weights(moments_root, tiny_weights, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "face.png", read_image(sorted((moments_root / "val" / "blur").glob("*.png"))[0]))
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    assert main(["moments", str(folder), "-o", str(out), "--frames", "3", "--model", str(tiny_weights), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "broken.png" in err and "Traceback" not in err
    assert len(list((out / "in" / "face_png").glob("moment_*.png"))) == 3
    single_image_model = default_model_path()
    assert main(["moments", str(folder / "face.png"), "-o", str(tmp_path / "x"), "--model", str(single_image_model)]) == 2
    assert "needs CFMD-GAN weights" in capsys.readouterr().err
    assert main(["moments", str(folder / "face.png"), "-o", str(tmp_path / "x"), "--u", "1.5",
                 "--model", str(tiny_weights)]) == 2


def test_moments_on_a_photo_leaves_the_background(lfw_people, tiny_weights):
    photo = read_image(sorted(lfw_people[0].glob("*.jpg"))[0])
    canvas = np.zeros((400, 500, 3), dtype=np.float32) + 0.3
    canvas[100:350, 150:400] = photo
    restorer = load_moments_model(tiny_weights)
    frames = moments(canvas, n=3, model=restorer, faces=True)
    assert len(frames) == 3
    for frame in frames:
        assert np.array_equal(frame[:40], canvas[:40]) and np.array_equal(frame[:, :60], canvas[:, :60])
    with pytest.raises(FaceDeblurError, match="no face"):
        moments(np.full((120, 120, 3), 0.5, np.float32), n=3, model=restorer, faces=True)


# ---------------------------------------------------------------- evaluation
def test_moments_evaluation_scores_each_moment_against_its_frame(moments_root, tiny_weights):
    root = moments_root / "val"
    result = evaluate_moments(root, ["blurry", f"moments:{tiny_weights}"], identity=False, progress=False)
    blurry_rows = [r for r in result.rows if r["method"] == "blurry (repeated)"]
    ds = VideoMoments(root)
    expected = []
    for i in range(len(ds)):
        item = ds[i]
        truth = item["frames"][item["order"]]
        expected.append(float(psnr(item["blur"][None].expand_as(truth), truth).mean()))
    assert [r["psnr"] for r in blurry_rows] == pytest.approx(expected, abs=1e-4)
    summary = result.summary["blurry (repeated)"]
    assert summary["all"]["samples"] == len(ds)
    assert sum(v["samples"] for k, v in summary.items() if k != "all") == len(ds)
    assert len(result.summary) == 2 and result.cases


def test_shipped_moments_model_turns_a_blurry_face_into_a_clip(moments_root, tmp_path):
    path = moments_model_path()
    assert path.stat().st_size < 20 * 2**20
    restorer = load_moments_model()
    assert restorer.header["architecture"] == "cfmd" and restorer.header["steps"] > 0
    blurry = sorted((moments_root / "val" / "blur").glob("*.png"))[0]
    assert main(["moments", str(blurry), "-o", str(tmp_path / "clip"), "--quiet"]) == 0
    frames = [read_image(p) for p in sorted((tmp_path / "clip").glob("moment_*.png"))]
    assert len(frames) == 7
    assert all(np.isfinite(f).all() and f.shape == read_image(blurry).shape for f in frames)
    assert Image.open(tmp_path / "clip" / "moments.gif").n_frames == 12
