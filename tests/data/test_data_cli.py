"""``spikestack data info|show|odg`` through ``spikestack.cli.main``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import spikestack.cli
from spikestack.data import make_events, write_events

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def data_command_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # other areas' command modules may not exist yet; test the data command on its own
    assert "spikestack.data.cli" in spikestack.cli._COMMAND_MODULES
    monkeypatch.setattr(spikestack.cli, "_COMMAND_MODULES", ("spikestack.data.cli",))


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "rec.npz"
    events = make_events([0, 250_000, 500_000, 1_000_000], [1, 9, 3, 0], [0, 7, 2, 5], [1, 1, 0, 1])
    write_events(path, events, sensor_size=(10, 8, 2))
    return path


def test_info_by_hand(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert spikestack.cli.main(["data", "info", str(recording)]) == 0
    out = capsys.readouterr().out
    assert "events:      4" in out
    assert "duration:    1.000000 s" in out
    assert "resolution:  10 x 8 (2-D, 2 polarities)" in out
    assert "event rate:  4.0 ev/s" in out
    assert "3 ON / 1 OFF (75.0% ON)" in out


@pytest.mark.skipif(not (SHARED / "nmnist_small").is_dir(), reason="shared N-MNIST samples absent")
def test_info_real_nmnist(capsys: pytest.CaptureFixture[str]) -> None:
    assert spikestack.cli.main(["data", "info", str(SHARED / "nmnist_small" / "1.bs2")]) == 0
    out = capsys.readouterr().out
    assert "events:      4681" in out and "34 x 34" in out and "893 .. 305924 us" in out


def test_info_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert spikestack.cli.main(["data", "info", str(tmp_path / "nope.bin")]) == 2
    assert "nope.bin" in capsys.readouterr().err


def test_show_png_and_gif(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    png, gif = tmp_path / "out" / "x.png", tmp_path / "x.gif"
    assert (
        spikestack.cli.main(["data", "show", str(recording), "--out", str(png), "--frames", "3"])
        == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        spikestack.cli.main(["data", "show", str(recording), "--out", str(gif), "--frames", "3"])
        == 0
    )
    with Image.open(gif) as img:
        assert img.format == "GIF" and img.n_frames == 3
    assert "3 frames of 10 x 8" in capsys.readouterr().out
    assert (
        spikestack.cli.main(["data", "show", str(recording), "--out", str(tmp_path / "x.jpg")]) == 2
    )
    assert "--out must end in .png or .gif" in capsys.readouterr().err


def test_odg_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from spikestack.data import read_events

    src = tmp_path / "imgs"
    src.mkdir()
    g = np.random.default_rng(0)
    for name in ["one.png", "two.png"]:
        Image.fromarray(g.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(src / name)
    assert spikestack.cli.main(["data", "odg", str(src), str(tmp_path / "ev")]) == 0
    assert "wrote 2 event files" in capsys.readouterr().out
    events, meta = read_events(tmp_path / "ev" / "two.npz", return_meta=True)
    assert len(events) > 0 and tuple(meta["sensor_size"]) == (224, 224, 2)
    assert spikestack.cli.main(["data", "odg", str(tmp_path / "missing"), str(tmp_path / "o")]) == 2
