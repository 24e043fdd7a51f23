"""Training and evaluating on a folder of real N-MNIST event files (sample data nmnist_small)."""

import shutil
from pathlib import Path

import pytest

from spikestack.cli import main


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path / "cache"))


def _subset(shared: Path, folder: Path, names: list[str], labels: dict[str, str]) -> Path:
    folder.mkdir()
    lines = ["#sample\t#class"]
    for name in names:
        shutil.copy(shared / f"{name}.bs2", folder / f"{name}.bs2")
        lines.append(f"{name}\t{labels[name]}")
    (folder / "labels.txt").write_text("\r\n".join(lines) + "\r\n")
    return folder


def _labels(shared: Path) -> dict[str, str]:
    rows = (shared / "train1K.txt").read_text().splitlines()[1:]
    return dict(line.split("\t")[:2] for line in rows if line.strip())


def test_train_on_folder_then_eval_on_another_folder(tmp_path, capsys, sample_folder):
    shared = sample_folder("nmnist_small")
    labels = _labels(shared)
    train_dir = _subset(shared, tmp_path / "train", [str(i) for i in range(1, 121)], labels)
    other = _subset(shared, tmp_path / "other", [str(i) for i in range(901, 931)], labels)
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "--data",
            "folder",
            "--root",
            str(train_dir),
            "--epochs",
            "1",
            "--frames",
            "4",
            "--no-progress",
            "--out",
            str(run),
            "--model-kwargs",
            '{"channels": 8}',
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "'sensor_size': [34, 34, 2]" in out
    assert out.strip().splitlines()[-1].startswith("test accuracy: ")
    assert main(["eval", str(run), "--data", "folder", "--root", str(other)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "on 30 samples" in lines[-2]
    accuracy = float(lines[-1].split(": ")[1])
    assert 0.0 <= accuracy <= 1.0


def test_missing_root_is_a_clear_error(tmp_path, capsys):
    out = ["--out", str(tmp_path / "r")]
    for args, message in (
        (["--data", "folder"], "needs --root"),
        (["--data", "folder", "--root", str(tmp_path / "nowhere")], "not a folder"),
        (["--data", "imagenet"], "unknown data set 'imagenet'"),
    ):
        assert main(["train", *args, *out]) == 2  # one line on stderr, no traceback
        err = capsys.readouterr().err
        assert message in err and err.startswith("spikestack train: error: ")
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ValueError, match="needs --root"):  # --debug: the error itself
        main(["--debug", "train", "--data", "folder", *out])
