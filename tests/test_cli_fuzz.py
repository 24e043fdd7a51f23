"""Bad input to every subcommand, generated: each case ends in exit status 2 with one line
that says what was wrong (argparse's usage errors: the usage line and one error line),
never a traceback and never a run that starts with a value it cannot use.

Cases: every numeric flag of every subcommand given text, NaN, zero and a negative number;
every run-folder command on seven kinds of broken run folder; the event-file commands on
seven kinds of bad file; ``train --config`` with six kinds of bad TOML file.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import pytest

from spikestack.cli import build_parser, main
from spikestack.data import write_events
from spikestack.data.events import make_events


def subcommands() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found[prefix] = parser
        for action in subs:
            for name, sub in action.choices.items():
                walk(sub, (*prefix, name))

    walk(build_parser(), ())
    return found


def numeric_flags() -> list[tuple[tuple[str, ...], list[str], argparse.Action]]:
    """(command, the least argv it parses with, a flag that takes a number)."""
    cases = []
    for command, parser in subcommands().items():
        base = list(command)
        for action in parser._actions:
            if not action.option_strings and action.nargs != "?" and action.dest != "help":
                base.append("x")  # positionals
            elif action.option_strings and action.required:
                base += [action.option_strings[-1], "x"]
        for action in parser._actions:
            if action.option_strings and action.type is not None and action.choices is None:
                try:
                    action.type("1")
                except (ValueError, TypeError, argparse.ArgumentTypeError):
                    continue  # not a number (a path, JSON, …)
                if action.type is json.loads or (
                    isinstance(action.type, type) and action.type not in (int, float)
                ):
                    continue  # JSON (checked by the config), Path, str
                cases.append((command, base, action))
    return cases


NUMERIC = numeric_flags()
# flags whose zero / negative values mean something
ZERO_OK = {"--seed", "--num-workers", "--warmup-epochs", "--val-fraction", "--test-fraction",
           "--momentum", "--weight-decay", "--prune-prior", "--online-decay", "--rate-penalty",
           "--membranes", "--min-events", "--e-mac", "--e-ac"}  # fmt: skip
NEGATIVE_OK = {"--seed"}


def parse(argv: list[str], capsys) -> tuple[object, str]:
    try:
        build_parser().parse_args(argv)
    except SystemExit as stop:
        return stop.code, capsys.readouterr().err
    return 0, capsys.readouterr().err


def test_every_subcommand_has_numeric_flags_to_check() -> None:
    commands = {command for command, _, _ in NUMERIC}
    assert len(NUMERIC) >= 40 and {("train",), ("data", "show"), ("energy",)} <= commands


@pytest.mark.parametrize(
    ("command", "base", "action"), NUMERIC,
    ids=[" ".join(c) + " " + a.option_strings[-1] for c, _, a in NUMERIC],
)  # fmt: skip
def test_numeric_flags_refuse_what_they_cannot_use(capsys, command, base, action) -> None:
    flag = action.option_strings[-1]
    nargs = action.nargs if isinstance(action.nargs, int) else 1
    for value in ("abc", "nan", "0", "-3"):
        code, err = parse([*base, flag, *[value] * nargs], capsys)
        allowed = (value == "0" and flag in ZERO_OK) or (value == "-3" and flag in NEGATIVE_OK)
        if allowed:
            assert code == 0, f"{flag} {value}: {err}"
            continue
        assert code == 2, f"{' '.join(command)} {flag} {value} was accepted"
        lines = err.strip().splitlines()
        assert "Traceback" not in err and lines[-1].count("error:") == 1
        assert f"argument {flag}" in lines[-1] or flag in lines[-1], lines[-1]


@pytest.fixture
def run_folders(tmp_path):
    from spikestack.train.config import TrainConfig

    folders = {"missing": tmp_path / "nowhere", "a file": tmp_path / "file.txt",
               "empty": tmp_path / "empty"}  # fmt: skip
    folders["a file"].write_text("hello")
    folders["empty"].mkdir()
    configs = {"garbage config": "{not json", "list config": "[1, 2]",
               "bad value": json.dumps({"data": {"batch_size": "x"}}),
               "no checkpoints": json.dumps(TrainConfig().to_dict())}  # fmt: skip
    for name, text in configs.items():
        folders[name] = tmp_path / name.replace(" ", "_")
        folders[name].mkdir()
        (folders[name] / "config.json").write_text(text)
    return folders


RUN_COMMANDS = [["eval"], ["resume"], ["plot"], ["energy"], ["analyse"], ["convert"],
                ["export", "--nir", "{tmp}/out.nir"]]  # fmt: skip


def one_line(argv: list[str], capsys) -> str:
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("command", RUN_COMMANDS, ids=lambda c: c[0])
def test_broken_run_folders(tmp_path, capsys, run_folders, command) -> None:
    for name, folder in run_folders.items():
        extra = [a.format(tmp=tmp_path) for a in command[1:]]
        err = one_line([command[0], str(folder), *extra], capsys)
        assert str(folder) in err, (name, err)


def test_bad_event_files(tmp_path, capsys) -> None:
    events = make_events(np.arange(50) * 10, np.arange(50) % 30, np.arange(50) % 20,
                         np.arange(50) % 2)  # fmt: skip
    good = write_events(tmp_path / "good.aedat4", events, sensor_size=(32, 32, 2))
    bad = {"missing": tmp_path / "nowhere.raw", "folder": tmp_path / "folder",
           "empty": tmp_path / "empty.raw", "garbage": tmp_path / "garbage.aedat4",
           "cut": tmp_path / "cut.aedat4", "unknown extension": tmp_path / "x.xyz",
           "text as N-MNIST": tmp_path / "t.bin"}  # fmt: skip
    bad["folder"].mkdir()
    bad["empty"].write_bytes(b"")
    bad["garbage"].write_bytes(np.random.default_rng(0).bytes(300))
    bad["cut"].write_bytes(good.read_bytes()[:200])
    bad["unknown extension"].write_bytes(b"abc")
    bad["text as N-MNIST"].write_bytes(b"hello world\n")
    out = tmp_path / "out"
    for name, path in bad.items():
        for argv in (["data", "info", str(path)],
                     ["data", "show", str(path), "--out", f"{out}.png"],
                     ["data", "convert", str(path), f"{out}.npz"]):  # fmt: skip
            err = one_line(argv, capsys)
            assert path.name in err, (name, argv, err)
    assert "does not exist" in one_line(["data", "convert", str(good), f"{out}/no/o.npz"], capsys)
    assert ".xyz" in one_line(["data", "convert", str(good), f"{out}.xyz"], capsys)
    assert "not a folder" in one_line(["data", "odg", str(good), str(out)], capsys)
    assert not os.path.exists(out) and not os.path.exists(f"{out}.npz")  # nothing half-written


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr = [", "is not valid TOML"),
        ("[optim]\nlrr = 1\n", "did you mean 'lr'"),
        ('[optim]\nlr = "fast"\n', "--lr ([optim] lr) must be a number; got 'fast'"),
        ("[run]\nepochs = -2\n", "--epochs ([run] epochs) must be >= 1; got -2"),
        ("[data]\nval_fraction = 1.5\n", "must be in [0, 1); got 1.5"),
        ("lr = 0.1\n", "belongs in the [optim] table"),
    ],
)
def test_bad_config_files(tmp_path, capsys, text, message) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    err = one_line(["train", "--config", str(config), "--out", str(tmp_path / "run")], capsys)
    assert message in err and str(config) in err
    assert not (tmp_path / "run").exists()


def test_config_check_from_python() -> None:
    """The same table checks a TrainConfig built in Python: a Path is a folder, a number is
    not; a wrong type or range names the option and its flag."""
    from pathlib import Path

    from spikestack.train.config import TrainConfig

    config = TrainConfig()
    config.data.root = Path("somewhere")
    assert config.check() is config
    config.data.root = 5
    with pytest.raises(ValueError, match=r"--root \(\[data\] root\) must be a string; got 5"):
        config.check()
    config = TrainConfig()
    config.optim.target_density = 0.0
    with pytest.raises(ValueError, match=r"--target-density .* must be in \(0, 1\]; got 0.0"):
        config.check()
    config.optim.target_density, config.run.seed = 1.0, -7  # 1 is allowed, any seed is
    assert config.check() is config
