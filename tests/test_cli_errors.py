"""The command line turns bad input into one line on stderr and exit status 2."""

from __future__ import annotations

import pytest

from spikestack.atomic import atomic_write
from spikestack.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "{tmp}/nowhere"], "is not a run folder (no config.json)"),
        (["resume", "{tmp}"], "is not a run folder (no config.json)"),
        (["train", "--model", "nosuch", "--out", "{tmp}/r"], "unknown model 'nosuch'"),
        (["train", "--surrogate", "nosuch", "--out", "{tmp}/r"], "nosuch"),
        (["train", "--neuron", "nosuch", "--out", "{tmp}/r"], "nosuch"),
        (["data", "info", "{tmp}"], "expected an event file, got a directory"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, args, message) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_numbers_are_usage_errors_and_debug_shows_the_error(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--epochs", "-3"])
    assert stopped.value.code == 2
    assert "--epochs: must be >= 1; got -3" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--batch-size", "many"])
    assert "must be a whole number" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        main(["--debug", "eval", str(tmp_path / "nowhere")])
    monkeypatch.setenv("SPIKESTACK_DEBUG", "1")
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        main(["eval", str(tmp_path / "nowhere")])


def test_an_unreadable_checkpoint_in_eval(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--max-samples", "60", "--no-progress",
                 "--out", str(run)]) == 0  # fmt: skip
    for ckpt in (run / "checkpoints").iterdir():
        ckpt.write_bytes(b"not a checkpoint")
    capsys.readouterr()
    with pytest.warns(RuntimeWarning, match="is unreadable"):
        assert main(["eval", str(run)]) == 2
    assert "every checkpoint in" in capsys.readouterr().err


def test_a_writer_names_the_target_when_its_folder_is_missing(tmp_path) -> None:
    target = tmp_path / "no" / "such" / "file.bin"
    with pytest.raises(
        FileNotFoundError, match=r"cannot write .*file\.bin: the folder .* does not"
    ):
        atomic_write(target, lambda f: f.write(b"x"))
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        atomic_write(tmp_path, lambda f: f.write(b"x"))


def test_python_dash_m_runs_the_same_command(tmp_path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "spikestack", "eval", str(tmp_path / "nowhere")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert "spikestack eval: error:" in done.stderr and "not a run folder" in done.stderr


def test_an_option_of_another_command_is_named_as_such(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["eval", str(tmp_path), "--no-progress"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "spikestack eval: error: unrecognized arguments: --no-progress" in err
    assert "(an option of spikestack train" in err and "did you mean" not in err
    with pytest.raises(SystemExit):
        main(["bench", "sparse", "--rate", "0.1", "--epochs", "3"])
    err = capsys.readouterr().err
    assert (
        "spikestack bench sparse: error:" in err
        and "--epochs (an option of spikestack train" in err
    )
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path), "--sparce"])
    assert "--sparce (did you mean --sparse?)" in capsys.readouterr().err


def test_the_training_command_imports_no_heavy_optional_package() -> None:
    """scipy (analysis), matplotlib (plots), h5py (HDF5 files) and numba (kernels) load
    where they are used, not with the package or the command line."""
    import subprocess
    import sys

    code = (
        "import sys, spikestack, spikestack.analysis, spikestack.train.run, spikestack.cli;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'matplotlib', 'h5py', 'numba'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
