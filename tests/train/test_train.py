import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from facedeblur.blur import SampleSettings, synthesize
from facedeblur.cli import main
from facedeblur.errors import FaceDeblurError, UsageError
from facedeblur.train import Trainer, load_config, preset_names, train
from facedeblur.train.config import OptimConfig
from facedeblur.train.data import build_datasets
from facedeblur.train.schedule import lr_factor
from tests.helpers import tiny_config

BIN = Path(sys.executable).parent


def losses_by_step(run_dir: Path) -> dict[int, dict]:
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "g" in record:
            out[record["step"]] = record
    return out


def test_every_preset_parses_and_states_its_data():
    names = preset_names()
    for required in (
        "deblurgan-gan",
        "deblurgan-lsgan",
        "deblurgan-wgangp",
        "deblurgan",
        "deepdeblur",
        "deblurgan-gan-cpu",
        "deblurgan-lsgan-cpu",
        "deblurgan-wgangp-cpu",
        "deepdeblur-cpu",
    ):
        assert required in names
    for name in names:
        cfg = load_config(name)
        assert cfg.name == name and cfg.description
    fan = load_config("deblurgan-wgangp")
    assert (
        fan.data.crop,
        fan.generator.args["n_blocks"],
        fan.loss.content_weight,
        fan.optim.lr,
        fan.loss.critic_steps,
    ) == (256, 6, 100.0, 1e-4, 5)
    nah = load_config("deepdeblur")
    assert (nah.optim.lr, nah.train.batch_size, nah.loss.adversarial_weight, nah.optim.step_at) == (
        5e-5,
        2,
        1e-4,
        300000,
    )
    assert load_config("deblurgan").train.batch_size == 1
    for name in names:
        if name.endswith("-cpu"):
            assert load_config(name).loss.content != "perceptual"


def test_overrides_and_bad_configs(tmp_path):
    cfg = load_config(
        "deblurgan-gan-cpu",
        ["train.steps=7", "loss.content=l1", "data.augment=[flip, rot90]", "optim.lr=5e-4"],
    )
    assert (
        cfg.train.steps == 7 and cfg.loss.content == "l1" and cfg.data.augment == ["flip", "rot90"]
    )
    assert cfg.optim.lr == 5e-4
    assert load_config("cfmd-cpu", ["data.shake_train="]).data.shake_train == "", (
        "an empty value clears a path"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("loss: {contnet: l1}\n")
    with pytest.raises(UsageError, match="unknown key 'contnet'"):
        load_config(bad)
    bad.write_text("train: {steps: many}\n")
    with pytest.raises(UsageError, match="train.steps: expected int"):
        load_config(bad)
    bad.write_text("train: [1, 2\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(UsageError, match="no such config file or preset"):
        load_config("no-such-preset")


def test_bad_config_on_the_cli_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {lr: fast}\n")
    assert main(["train", str(bad), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "optim.lr" in err[0]
    assert (
        main(
            [
                "train",
                "deblurgan-gan-cpu",
                "--set",
                f"data.train={tmp_path / 'nowhere'}",
                "--quiet",
                "-o",
                str(tmp_path / "run"),
            ]
        )
        == 2
    )
    assert "training data not found" in capsys.readouterr().err


def test_vgg_without_weights_fails_clearly(tmp_path, lfw_tree, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    cfg = load_config(
        "deblurgan-wgangp",
        [f"data.train={lfw_tree}", "data.size=32", "data.crop=32", "data.workers=0"],
    )
    with pytest.raises(FaceDeblurError, match="vgg19"):
        Trainer(cfg, tmp_path / "run", progress=False)


def test_learning_rate_schedules():
    linear = OptimConfig(schedule="linear", decay_start=0.5)
    assert [lr_factor(s, 100, linear) for s in (0, 49, 50, 75, 100)] == [1.0, 1.0, 1.0, 0.5, 0.0]
    step = OptimConfig(schedule="step", step_at=30, gamma=0.1)
    assert lr_factor(29, 100, step) == 1.0 and lr_factor(30, 100, step) == pytest.approx(0.1)


@pytest.mark.parametrize("adversarial", ["gan", "lsgan", "wgan-gp", "hinge"])
def test_one_step_per_adversarial_loss_reaches_every_parameter(tmp_path, lfw_tree, adversarial):
    cfg = load_config(tiny_config(tmp_path, lfw_tree, adversarial))
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    losses = trainer.train_step(next(trainer.stream))
    assert all(math.isfinite(v) for v in losses.values())
    assert ("gp" in losses) == (adversarial == "wgan-gp")
    for net in (trainer.generator, trainer.discriminator):
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            if (
                p.dim() > 1
            ):  # biases right before an InstanceNorm get (numerically) zero gradient by design
                assert p.grad.abs().sum() > 0, name


@pytest.mark.slow
def test_ema_leaves_the_random_initial_weights_behind_within_a_few_steps(tmp_path, lfw_tree):
    cfg = load_config(tiny_config(tmp_path, lfw_tree, "none", steps=3, ema=0.999))
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    initial = [p.detach().clone() for p in trainer.ema.parameters()]
    trainer.fit()
    averaged = [p.detach() for p in trainer.ema.parameters()]
    trained = [p.detach() for p in trainer.generator.parameters()]
    to_initial = sum(float((e - i).abs().sum()) for e, i in zip(averaged, initial))
    to_trained = sum(float((e - g).abs().sum()) for e, g in zip(averaged, trained))
    assert to_trained < 0.25 * to_initial


def test_a_paired_folder_mixes_into_training_and_validation(tmp_path, lfw_tree):
    pairs = tmp_path / "pairs"
    synthesize(lfw_tree, pairs, SampleSettings(size=32), count=3, seed=0, progress=False)
    cfg = load_config(
        tiny_config(tmp_path, lfw_tree, "none"),
        [
            f"data.mix_train={pairs}",
            f"data.mix_val={pairs}",
            "data.mix_fraction=0.5",
            "data.mix_val_count=2",
        ],
    )
    train_set, val = build_datasets(cfg.data, seed=0)
    lfw_only, lfw_val = build_datasets(
        load_config(tiny_config(tmp_path, lfw_tree, "none")).data, seed=0
    )
    assert len(train_set) == 2 * len(lfw_only)
    assert len(val) == len(lfw_val) + 2
    assert {item["id"] for item in val[-2:]} <= {p.stem for p in (pairs / "blur").glob("*.png")}


def test_several_paired_folders_each_make_up_their_share_of_the_draws(tmp_path, lfw_tree):
    folders = []
    for name, count in (("video", 3), ("motion", 5)):
        folders.append(tmp_path / name)
        synthesize(lfw_tree, folders[-1], SampleSettings(size=32), count=count, seed=1)
        for side in ("blur", "sharp"):  # names that tell the two folders apart
            for path in (folders[-1] / side).glob("*.png"):
                path.rename(path.with_name(f"{name}-{path.name}"))
    cfg = load_config(
        tiny_config(tmp_path, lfw_tree, "none"),
        [
            f"data.mix_train=[{folders[0]}, {folders[1]}]",
            "data.mix_fraction=[0.25, 0.5]",
            f"data.mix_val=[{folders[0]}, {folders[1]}]",
            "data.mix_val_count=1",
        ],
    )
    train_set, val = build_datasets(cfg.data, seed=0)
    lfw_only, lfw_val = build_datasets(
        load_config(tiny_config(tmp_path, lfw_tree, "none")).data, seed=0
    )
    assert len(train_set) == 4 * len(lfw_only)  # LFW is the remaining quarter
    train_set.set_epoch(0)
    drawn = [train_set[i]["id"] for i in range(len(train_set))]
    assert sum(i.startswith("video-") for i in drawn) == len(train_set) // 4
    assert sum(i.startswith("motion-") for i in drawn) == len(train_set) // 2
    assert len(val) == len(lfw_val) + 2


def test_mix_fractions_must_match_the_folders_and_leave_room(tmp_path, lfw_tree):
    base = tiny_config(tmp_path, lfw_tree, "none")
    with pytest.raises(UsageError, match="one per folder"):
        load_config(base, ["data.mix_train=[a, b]", "data.mix_fraction=0.2"])
    with pytest.raises(UsageError, match="together below 1"):
        load_config(base, ["data.mix_train=[a, b]", "data.mix_fraction=[0.5, 0.5]"])


def test_multiscale_preset_trains_a_step(tmp_path, lfw_tree):
    cfg = load_config(
        "deepdeblur-cpu",
        [
            f"data.train={lfw_tree}",
            "data.val_fraction=0.34",
            "data.val_count=2",
            "data.size=32",
            "data.crop=32",
            "train.batch_size=2",
            "data.limit=0",
        ],
    )
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    losses = trainer.train_step(next(trainer.stream))
    assert math.isfinite(losses["content"]) and math.isfinite(losses["g_adv"])


def test_each_generator_step_starts_from_fresh_gradients(tmp_path, lfw_tree):
    trainer = Trainer(
        load_config(tiny_config(tmp_path, lfw_tree, "none")), tmp_path / "run", progress=False
    )
    for group in trainer.opt_g.param_groups:
        group["lr"] = 0.0  # the weights stay put, so the same batch must give the same gradients
    batch = next(trainer.stream)
    torch.manual_seed(0)  # the same dropout masks in both steps
    trainer.train_step(batch)
    first = [p.grad.clone() for p in trainer.generator.parameters()]
    torch.manual_seed(0)
    trainer.train_step(batch)
    for before, p in zip(first, trainer.generator.parameters()):
        assert torch.allclose(p.grad, before, atol=1e-6)


@pytest.mark.slow
def test_resume_continues_with_identical_losses(tmp_path, lfw_tree):
    config = tiny_config(tmp_path, lfw_tree, "wgan-gp")
    full_dir, _ = train(config, run_dir=tmp_path / "full", progress=False)
    cfg = load_config(config)
    Trainer(cfg, tmp_path / "killed", progress=False).fit(until=3)
    assert not (tmp_path / "killed" / "generator.safetensors").exists()
    train(None, resume=tmp_path / "killed", progress=False)
    full, resumed = losses_by_step(full_dir), losses_by_step(tmp_path / "killed")
    assert sorted(resumed) == sorted(full) == [1, 2, 3, 4, 5, 6]
    for step in (4, 5, 6):
        for key in ("g", "d", "gp", "content", "lr"):
            assert resumed[step][key] == full[step][key], (step, key)
    for name in (
        "config.yaml",
        "run.json",
        "generator.safetensors",
        "checkpoints/last.pt",
        "checkpoints/best.pt",
    ):
        assert (full_dir / name).is_file(), name
    assert list((full_dir / "samples").glob("val_*.png"))
    val = [
        json.loads(line)
        for line in (full_dir / "metrics.jsonl").read_text().splitlines()
        if "val_psnr" in line
    ]
    assert len(val) == 2 and all(v["blurry_psnr"] > 0 for v in val)


@pytest.mark.slow
def test_starting_over_an_existing_run_is_refused(tmp_path, lfw_tree):
    config = tiny_config(tmp_path, lfw_tree, "lsgan", steps=1)
    train(config, run_dir=tmp_path / "run", progress=False)
    with pytest.raises(UsageError, match="--resume"):
        train(config, run_dir=tmp_path / "run", progress=False)


@pytest.mark.slow
def test_sigkill_then_resume_on_the_cli(tmp_path, lfw_tree):
    config = tiny_config(
        tmp_path, lfw_tree, "gan", steps=400, ckpt_every=5, val_every=1000, log_every=5
    )
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [str(BIN / "facedeblur"), "train", str(config), "-o", str(run_dir), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = run_dir / "checkpoints" / "last.pt"
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert last.exists()
    saved = torch.load(last, weights_only=False)["step"]
    assert 0 < saved < 400
    code = main(
        ["train", "--resume", str(run_dir), "--set", "train.steps=" + str(saved + 5), "--quiet"]
    )
    assert code == 0
    steps = sorted(losses_by_step(run_dir))
    assert steps[-1] == saved + 5
    assert torch.load(last, weights_only=False)["step"] == saved + 5


@pytest.mark.slow
def test_two_process_ddp_on_gloo(tmp_path, lfw_tree):
    config = tiny_config(tmp_path, lfw_tree, "lsgan", steps=2, val_every=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            str(BIN / "torchrun"),
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            "-m",
            "facedeblur",
            "train",
            str(config),
            "-o",
            str(tmp_path / "ddp"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "ddp" / "generator.safetensors").is_file()
    assert json.loads((tmp_path / "ddp" / "run.json").read_text())["world_size"] == 2
