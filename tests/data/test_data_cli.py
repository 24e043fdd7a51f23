"""``spikestack data info|show|odg|convert`` through ``spikestack.cli.main`` (the command on
the real N-MNIST sample is run in test_real_files.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import spikestack.cli
from spikestack.data import make_events, read_events, write_events


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
    printed = capsys.readouterr().out
    assert "3 frames, " in printed and "of 10 x 8" in printed
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


def convert(*args: object) -> int:
    return spikestack.cli.main(["data", "convert", *(str(a) for a in args)])


def test_convert_by_extension_and_format(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = read_events(recording)
    out = tmp_path / "rec.aedat4"
    assert convert(recording, out) == 0
    assert f"wrote {out}: 4 events as aedat4" in capsys.readouterr().out
    back, meta = read_events(out, return_meta=True)
    np.testing.assert_array_equal(back, events)
    assert meta["sensor_size"] == (10, 8, 2)  # carried over from the .npz
    raw = tmp_path / "rec.raw"
    assert convert(out, raw, "--format", "evt2") == 0
    assert "4 events as evt2 (Prophesee EVT 2.0 .raw)" in capsys.readouterr().out
    np.testing.assert_array_equal(read_events(raw), events)
    hidden = tmp_path / "rec.bin"  # EVT 2.0 content under an N-MNIST name
    hidden.write_bytes(raw.read_bytes())
    assert convert(hidden, tmp_path / "x.npz") == 2
    assert "spikestack data: error:" in capsys.readouterr().err
    assert convert(hidden, tmp_path / "x.npz", "--in-format", "evt2") == 0
    np.testing.assert_array_equal(read_events(tmp_path / "x.npz"), events)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/missing.npz", "{tmp}/out.bin"], "missing.npz"),
        (["{rec}", "{tmp}/out.raw"], "pass format='evt2' or format='evt3'"),
        (["{rec}", "{tmp}/out.txt"], "cannot tell which format"),
        (["{rec}", "{tmp}/out.bin", "--format", "mp4"], "format must be one of"),
        (["{rec}", "{tmp}/out.npz", "--in-format", "evt3"], "EVT 3.0"),
        (["{rec}", "{tmp}/out.bs1"], "SLAYER .bs1 stores 1-D events"),
        (["{rec}", "{tmp}/no/such/folder/out.npz"], "does not exist"),
    ],
)
def test_convert_errors_exit_2_and_write_nothing(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args, message
) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    filled = [a.format(tmp=tmp_path, rec=recording) for a in args]
    assert convert(*filled) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikestack data: error:") and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no OUT, no temp file


def test_convert_refused_events_keep_the_old_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wide = tmp_path / "wide.npz"
    write_events(wide, make_events([0, 5], [3, 1279], [2, 700], [1, 0]), sensor_size=(1280, 720, 2))
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")
    assert convert(wide, out) == 2
    err = capsys.readouterr().err
    assert "x = 1279" in err and "[0, 255]" in err and str(out) in err
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "wide.npz"]


def test_pictures_are_readable() -> None:
    import numpy as np

    from spikestack.data.picture import OFF, ON, active_box, event_rgb

    frames = np.zeros((2, 2, 40, 60))
    frames[0, 1, 10, 20] = 1  # one ON event
    frames[1, 0, 12:22, 22:42] = 2  # 200 OFF pixels with 2 events ...
    frames[1, 0, 30, 50] = 500  # ... and one very busy one, which must not dim them
    rgb = event_rgb(frames, crop=False)
    assert rgb.shape == (2, 40, 60, 3) and rgb[0, 0, 0].tolist() == [0.0, 0.0, 0.0]  # dark
    assert np.allclose(rgb[1, 30, 50], OFF) and np.allclose(rgb[1, 12, 22], OFF)  # clipped
    assert rgb[0, 10, 20].tolist() == pytest.approx((ON * np.sqrt(1 / 2)).tolist())
    rows, cols = active_box(frames, margin=1, keep=1.0)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (9, 32, 19, 52)
    assert event_rgb(frames).shape[1:3] == (27, 37)  # cropped, a stray 0.1 % left out
