"""Every file command over the bad-input corpus (``tests/corpus``): no traceback, the documented
exit code, inputs unchanged, no temporary or partial outputs, and the good files done."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from facedeblur.cli import main
from facedeblur.models.weights import pretrained_path, read_weights
from facedeblur.restore import memory
from tests.corpus.build import BAD, GOOD, build_corpus, build_large

FACE = ("George_W_Bush", "George_W_Bush_0001.jpg")

# command -> (extra arguments, where the output of input NAME lies under OUT)
COMMANDS = {
    "deblur": ([], lambda out, name: out / "corpus" / _image_name(name)),
    "deblur-faces": (["--faces"], lambda out, name: out / "corpus" / _image_name(name)),
    "moments": (["--frames", "2"], lambda out, name: out / "corpus" / name.replace(".", "_")),
    "obfuscate": (["--method", "blur"], lambda out, name: out / "corpus" / _image_name(name)),
}


def _image_name(name: str) -> str:
    stem, _, ext = name.rpartition(".")
    return name if ext in ("jpg", "jpeg", "png") else f"{stem}.png"


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.iterdir()
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture()
def corpus(tmp_path, data_dir) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "corpus"
    return folder, build_corpus(folder, data_dir / "lfw" / "images" / FACE[0] / FACE[1])


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_over_the_corpus_does_the_good_files_and_names_the_bad(
    command, corpus, tmp_path, capsys
):
    folder, kinds = corpus
    before = _digests(folder)
    extra, output_of = COMMANDS[command]
    out = tmp_path / "out"
    code = main([command.split("-")[0], str(folder), "-o", str(out), "--quiet", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 1, err
    assert _digests(folder) == before, "inputs must never change"
    for name, kind in kinds.items():
        if kind == GOOD:
            assert output_of(out, name).exists(), f"{name} was not done:\n{err}"
        if kind == BAD and (folder / name).is_file():
            assert f"{name}:" in err, f"{name} is not reported:\n{err}"
            assert not output_of(out, name).exists(), f"{name} has an output"
    leftovers = [p for p in out.rglob("*") if ".tmp" in p.name]
    assert not leftovers, f"temporary files left: {leftovers}"


@pytest.mark.parametrize("name", ["loop_a.jpg", "folder.jpg", "missing.jpg"])
def test_inputs_that_are_not_files_are_one_line(name, corpus, tmp_path, capsys):
    folder, _ = corpus
    code = main(["deblur", str(folder / name), "-o", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and name in err
    assert not (tmp_path / "out").exists()


def _hostile_weights(tmp_path: Path) -> dict[str, Path]:
    """Weights files a user might be handed: broken, lying about their size, or of another kind."""
    shipped = pretrained_path("default.safetensors")
    header, tensors = read_weights(shipped)
    data = shipped.read_bytes()
    files = {"truncated": data[: len(data) // 3], "text": b"not weights at all\n" * 10}
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / f"{name}.safetensors"
        paths[name].write_bytes(content)
    from safetensors.torch import save_file

    def save(name: str, header_text: str, new_tensors: dict) -> None:
        paths[name] = tmp_path / f"{name}.safetensors"
        save_file(new_tensors, str(paths[name]), metadata={"facedeblur": header_text})

    save("not_json", "{architecture: nafnet", tensors)
    save("huge_width", json.dumps({**header, "args": {**header["args"], "width": 4000}}), tensors)
    nan = {
        k: (torch.full_like(v, float("nan")) if v.is_floating_point() else v)
        for k, v in tensors.items()
    }
    save("nan", json.dumps(header), nan)
    paths["attributes"] = pretrained_path("attributes.safetensors")
    paths["moments"] = pretrained_path("moments.safetensors")
    return paths


@pytest.mark.parametrize(
    "kind", ["truncated", "text", "not_json", "huge_width", "nan", "attributes", "moments"]
)
def test_hostile_weights_are_one_line_and_nothing_is_written(kind, corpus, tmp_path, capsys):
    folder, _ = corpus
    weights = _hostile_weights(tmp_path)[kind]
    out = tmp_path / "out.png"
    code = main(["deblur", str(folder / "good.jpg"), "-o", str(out), "--model", str(weights)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(_Payload.marker),))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, lfw_tree, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    _Payload.marker = str(tmp_path / "payload-ran")
    torch.save({"step": _Payload()}, run / "checkpoints" / "last.pt")
    (run / "config.yaml").write_text(
        f"name: x\ndata: {{train: {lfw_tree}, size: 32, crop: 32, val_fraction: 0.34}}\n"
        "generator: {name: deblurgan, args: {n_blocks: 1, ngf: 8}}\ntrain: {batch_size: 2}\n"
    )
    code = main(["train", "--resume", str(run), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not Path(_Payload.marker).exists(), "the checkpoint's code ran"


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["--faces"], ["--tile", "0"]])
def test_an_image_over_the_memory_budget_is_one_line_and_the_batch_goes_on(
    extra, tmp_path, data_dir, capsys
):
    face = data_dir / "lfw" / "images" / FACE[0] / FACE[1]
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(face).resize((128, 128)).save(folder / "small.jpg")
    build_large(folder / "large.jpg", face, 2400, 2000)
    before = _digests(folder)
    # Room for the small photo, not for 4.8 MP (--faces: about 0.16 GB more; --tile 0: 5 GB).
    budget = f"{memory.PROCESS_BYTES / memory.GB + 0.1:.2f}"
    out = tmp_path / "out"
    code = main(
        ["deblur", str(folder), "-o", str(out), "--quiet", "--memory-budget", budget, *extra]
    )
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err, err
    refused = [line for line in err.splitlines() if "large.jpg" in line]
    assert len(refused) == 1, err
    assert f"over the {float(budget):g} GB budget" in refused[0] and "--memory-budget" in refused[0]
    assert (out / "in" / "small.jpg").exists() and not (out / "in" / "large.jpg").exists()
    assert _digests(folder) == before
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


@pytest.mark.parametrize("budget", ["0.1", "nan", "inf", "2000"])
def test_a_memory_budget_out_of_range_is_a_usage_error(budget, tmp_path, data_dir, capsys):
    face = data_dir / "lfw" / "images" / FACE[0] / FACE[1]
    args = ["deblur", str(face), "-o", str(tmp_path / "o.png")]
    assert main([*args, "--memory-budget", budget]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--memory-budget" in err
    assert not (tmp_path / "o.png").exists()
