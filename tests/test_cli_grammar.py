"""One grammar for every command: the options they share have one spelling, destination,
default and help, and an option name means one thing wherever it appears."""

from __future__ import annotations

import argparse
import functools
import inspect
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from facedeblur.cli import (
    DEVICE_HELP,
    OUT_RULES,
    OVERWRITE_HELP,
    QUIET_HELP,
    VERBOSE_HELP,
    build_parser,
    main,
)
from facedeblur.io import write_image

# Every command, by what it does; a new command must be placed here.
COMMANDS = {
    "synth",
    "train",
    "deblur",
    "moments",
    "evaluate",
    "obfuscate",
    "privacy-audit",
    "export",
    "demo",
    "serve",
}
# Commands that run a network (synth runs dlib's HOG detector and landmark trees only).
NETWORK = COMMANDS - {"synth"}
# export traces and checks the graph on the CPU, so it has --threads but no --device.
CPU_ONLY = {"export"}
# serve writes no files.
NO_OUTPUT = {"serve"}
# A run folder that holds files is continued with --resume, never overwritten.
NO_OVERWRITE = {"train"}
# Names whose destination differs because one command takes one value and another a list.
ONE_OR_MANY = {"--method"}


@functools.cache
def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    return next((a for a in parser._actions if flag in a.option_strings), None)


def _described(action: argparse.Action) -> tuple:
    """What must be equal wherever a shared option appears."""
    return (
        tuple(action.option_strings),
        action.dest,
        action.default,
        action.help,
        action.nargs,
        tuple(action.choices or ()),
    )


def test_every_command_has_its_place_in_this_grammar():
    assert set(_commands()) == COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS - NO_OUTPUT))
def test_the_output_is_dash_o_or_dash_dash_out_everywhere(name):
    parser = _commands()[name]
    out = _option(parser, "--out")
    assert out is not None, f"{name} has no -o/--out"
    assert out.option_strings == ["-o", "--out"] and out.dest == "out" and out.metavar == "OUT"
    assert out.type is Path and out.help.endswith(OUT_RULES)
    assert out.required or out.default is None or "default" in out.help
    positional = [a.dest for a in parser._actions if not a.option_strings]
    assert "out" not in positional and "output" not in positional


@pytest.mark.parametrize("name", sorted(COMMANDS - NO_OUTPUT - NO_OVERWRITE))
def test_overwrite_is_one_switch_with_one_help(name):
    action = _option(_commands()[name], "--overwrite")
    assert action is not None, f"{name} has no --overwrite"
    assert _described(action) == (("--overwrite",), "overwrite", False, OVERWRITE_HELP, 0, ())


def test_train_refuses_a_full_run_folder_instead_of_overwriting_it():
    assert _option(_commands()["train"], "--overwrite") is None
    assert _option(_commands()["train"], "--resume") is not None


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_device_and_threads_on_exactly_the_commands_that_run_a_network(name):
    parser = _commands()[name]
    device, threads = _option(parser, "--device"), _option(parser, "--threads")
    if name not in NETWORK:
        assert device is None and threads is None
        return
    assert threads is not None, f"{name} runs a network without --threads"
    reference = _option(_commands()["deblur"], "--threads")
    assert _described(threads) == _described(reference)
    assert threads.default is None and "1 to 256" in threads.help
    if name in CPU_ONLY:
        assert device is None
        return
    assert device is not None, f"{name} runs a network without --device"
    expected = (("--device",), "device", "auto", DEVICE_HELP, None, ("auto", "cpu", "cuda"))
    assert _described(device) == expected


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_verbose_and_quiet_everywhere(name):
    parser = _commands()[name]
    verbose, quiet = _option(parser, "--verbose"), _option(parser, "--quiet")
    assert verbose is not None and quiet is not None, f"{name} lacks -v/--verbose or --quiet"
    assert _described(verbose) == (("-v", "--verbose"), "verbose", False, VERBOSE_HELP, 0, ())
    assert _described(quiet) == (("--quiet",), "quiet", False, QUIET_HELP, 0, ())


def test_verbose_shows_device_threads_and_time_per_input_and_quiet_hides_the_bar(
    tiny_model, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    face = write_image(tmp_path / "face.png", np.full((24, 24, 3), 0.5, np.float32))
    base = ["deblur", str(face), "--model", str(tiny_model)]
    assert main([*base, "-o", str(tmp_path / "a"), "-v"]) == 0
    err = capsys.readouterr().err
    assert "device: cpu (auto: CUDA is not available on this machine)" in err
    assert "CPU threads: " in err and "deblur took " in err
    assert re.search(rf"{re.escape(str(face))} -> .*face.png: \d+\.\d\d s", err)
    assert main([*base, "-o", str(tmp_path / "b"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main([*base, "-o", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err
    assert "deblur: 100%" in err and "device:" not in err and " s\n" not in err


def test_verbose_and_quiet_exclude_each_other(capsys):
    assert main(["deblur", "x.png", "-o", "y", "-v", "--quiet"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_an_option_name_has_one_destination_in_every_command():
    where: dict[str, dict[str, str]] = {}
    for name, parser in _commands().items():
        for action in parser._actions:
            for flag in action.option_strings:
                where.setdefault(flag, {})[name] = action.dest
    differing = {
        flag: dests
        for flag, dests in where.items()
        if flag not in ONE_OR_MANY and len(set(dests.values())) > 1
    }
    assert not differing


def test_frames_means_moments_to_restore_and_frame_counts_means_frames_to_average():
    commands = _commands()
    assert [n for n, p in commands.items() if _option(p, "--frames")] == ["moments"]
    assert [n for n, p in commands.items() if _option(p, "--frame-counts")] == ["synth"]


def test_python_entry_points_choose_the_device_as_the_commands_do():
    import facedeblur
    from facedeblur.privacy.video import obfuscate_video
    from facedeblur.restore.video import deblur_video
    from facedeblur.restore.video_moments import moments_video

    public = [getattr(facedeblur, name) for name in facedeblur.__all__]
    functions = [f for f in public if inspect.isfunction(f)]
    functions += [deblur_video, obfuscate_video, moments_video]
    parameters = {f.__name__: inspect.signature(f).parameters for f in functions}
    defaults = {name: p["device"].default for name, p in parameters.items() if "device" in p}
    assert {"deblur", "moments", "obfuscate", "load_model"} <= set(defaults)
    assert {name: d for name, d in defaults.items() if d != "auto"} == {}
