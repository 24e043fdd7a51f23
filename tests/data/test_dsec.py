"""DSEC optical flow: events windows read through ms_to_idx, 16-bit flow maps decoded, both
layouts (DSEC's archives extracted, Tonic's per-recording files), bad files named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _data import http_files, zip_bytes  # noqa: E402

h5py = pytest.importorskip("h5py")
png = pytest.importorskip("png", reason="needs pypng (the data extra) for 16-bit PNGs")

from spikestack.data.datasets import DSECFlow  # noqa: E402
from spikestack.data.events import EventFormatError  # noqa: E402
from spikestack.data.transforms import ToFrame  # noqa: E402

OFFSET = 5_000_000  # t_offset, µs


def write_events_h5(path: Path, t: np.ndarray, x, y, p) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.asarray(t, np.uint32)
    # ms_to_idx[m] = the first event at or after m ms
    ms_to_idx = np.searchsorted(t, np.arange(int(t[-1]) // 1000 + 2) * 1000, side="left")
    with h5py.File(path, "w") as f:
        f["events/t"], f["events/x"] = t, np.asarray(x, np.uint16)
        f["events/y"], f["events/p"] = np.asarray(y, np.uint16), np.asarray(p, np.uint8)
        f["t_offset"] = np.int64(OFFSET)
        f["ms_to_idx"] = ms_to_idx.astype(np.uint64)


def write_flow_png(path: Path, flow: np.ndarray, valid: np.ndarray) -> None:
    """flow [2, H, W] in pixels (multiples of 1/128) -> DSEC's 16-bit RGB encoding."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = valid.shape
    rgb = np.zeros((h, w, 3), np.uint16)
    rgb[..., 0] = np.rint(flow[0] * 128 + 2**15)
    rgb[..., 1] = np.rint(flow[1] * 128 + 2**15)
    rgb[..., 2] = valid
    with open(path, "wb") as f:
        png.Writer(w, h, greyscale=False, bitdepth=16).write(f, rgb.reshape(h, w * 3).tolist())


def recording(rng: np.random.Generator, n: int = 4000):
    t = np.sort(rng.integers(0, 300_000, n))
    return t, rng.integers(0, 640, n), rng.integers(0, 480, n), rng.integers(0, 2, n)


WINDOWS = [(OFFSET + 10_000, OFFSET + 110_000), (OFFSET + 110_000, OFFSET + 210_500)]


def make_dsec_layout(root: Path, rec: str, events, maps) -> None:
    write_events_h5(root / "train_events" / rec / "events" / "left" / "events.h5", *events)
    flow_dir = root / "train_optical_flow" / rec / "flow"
    for k, (flow, valid) in enumerate(maps):
        write_flow_png(flow_dir / "forward" / f"{k * 2:06d}.png", flow, valid)
    lines = ["# from_timestamp_us, to_timestamp_us"] + [f"{a}, {b}" for a, b in WINDOWS]
    (flow_dir / "forward_timestamps.txt").write_text("\n".join(lines) + "\n")


def make_tonic_layout(root: Path, rec: str, events, maps) -> None:
    write_events_h5(root / rec / "events_left" / "events.h5", *events)
    for k, (flow, valid) in enumerate(maps):
        write_flow_png(root / rec / "optical_flow_forward_event" / f"{k:06d}.png", flow, valid)
    stamps = root / rec / "optical_flow_forward_timestamps"
    stamps.mkdir(parents=True)
    lines = ["# from_timestamp_us, to_timestamp_us"] + [f"{a}, {b}" for a, b in WINDOWS]
    (stamps / f"{rec}_optical_flow_forward_timestamps.txt").write_text("\n".join(lines))


def flow_maps(rng: np.random.Generator, h: int = 480, w: int = 640):
    out = []
    for _ in WINDOWS:
        flow = np.rint(rng.uniform(-40, 40, (2, h, w)) * 128) / 128
        out.append((flow.astype(np.float32), rng.random((h, w)) < 0.3))
    return out


@pytest.mark.parametrize("layout", [make_dsec_layout, make_tonic_layout])
def test_windows_and_flow_maps(tmp_path, layout) -> None:
    rng = np.random.default_rng(0)
    events, maps = recording(rng), flow_maps(rng)
    layout(tmp_path, "zurich_city_01_a", events, maps)
    write_events_h5(
        tmp_path / "other" / "thun_00_a" / "events_left" / "events.h5", *recording(rng, 50)
    )  # fmt: skip  (no flow: left out)
    data = DSECFlow(tmp_path)
    assert data.recordings == ["zurich_city_01_a"] and len(data) == 2
    t, x, y, p = events
    for k, (start, stop) in enumerate(WINDOWS):
        got, (flow, valid) = data[k]
        keep = (t + OFFSET >= start) & (t + OFFSET < stop)
        assert keep.sum() > 100 and np.array_equal(got["t"], t[keep] + OFFSET)
        assert np.array_equal(got["x"], x[keep]) and np.array_equal(got["p"], p[keep])
        np.testing.assert_array_equal(flow, maps[k][0])  # exact: multiples of 1/128
        assert flow.shape == (2, 480, 640) and np.array_equal(valid, maps[k][1])
    frames = DSECFlow(tmp_path, frames=ToFrame((640, 480, 2), n_time_bins=4),
                      cache_dir=tmp_path / "cache")  # fmt: skip
    f0, f1 = frames[0][0], frames[1][0]
    assert f0.shape == (4, 2, 480, 640) and f0.sum() == data[0][0].size
    assert f1.sum() == data[1][0].size  # the cache keeps the windows of one file apart


def test_errors_name_what_is_wrong(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="train_optical_flow.zip"):
        DSECFlow(tmp_path)
    rng = np.random.default_rng(1)
    make_tonic_layout(tmp_path, "thun_00_a", recording(rng), flow_maps(rng, 4, 6))
    with pytest.raises(FileNotFoundError, match=r"\['zurich_city_02_a'\].*found \['thun_00_a'\]"):
        DSECFlow(tmp_path, recordings=["zurich_city_02_a"])
    data = DSECFlow(tmp_path, recordings=["thun_00_a"])
    assert data[0][1][0].shape == (2, 4, 6)
    # an 8-bit PNG in place of a flow map
    bad = data.flow_files[1]
    with open(bad, "wb") as f:
        png.Writer(6, 4, greyscale=True, bitdepth=8).write(f, np.zeros((4, 6), int).tolist())
    with pytest.raises(EventFormatError, match="16-bit RGB"):
        data[1]
    bad.write_bytes(b"\x89PNG broken")
    with pytest.raises(EventFormatError, match="not a readable PNG"):
        data[1]
    stamps = next((tmp_path / "thun_00_a" / "optical_flow_forward_timestamps").iterdir())
    stamps.write_text("# header\n100, 50\n")
    with pytest.raises(EventFormatError, match="ends before it starts"):
        DSECFlow(tmp_path)
    stamps.write_text("# header\n100; 200\n")
    with pytest.raises(EventFormatError, match=r":2: expected 'from_timestamp_us"):
        DSECFlow(tmp_path)
    stamps.write_text("# header\n100, 200\n")
    with pytest.raises(EventFormatError, match="2 flow maps .* but 1 windows"):
        DSECFlow(tmp_path)


def test_download_fetches_a_recording_into_tonics_layout(tmp_path, monkeypatch) -> None:
    """download=True against a local server holding one recording's three files."""
    from spikestack.data.datasets import dsec as module

    rng = np.random.default_rng(2)
    made = tmp_path / "made"
    make_tonic_layout(made, "thun_00_a", recording(rng), flow_maps(rng, 4, 6))
    files = {
        f"/thun_00_a/thun_00_a_{name}.zip": zip_bytes(
            {f.name: f.read_bytes() for f in (made / "thun_00_a" / name).iterdir()}
        )
        for name in ("events_left", "optical_flow_forward_event")
    }
    stamps = made / "thun_00_a" / "optical_flow_forward_timestamps"
    files["/thun_00_a/thun_00_a_optical_flow_forward_timestamps.txt"] = next(
        stamps.iterdir()
    ).read_bytes()
    with http_files(files) as (base, asked):
        monkeypatch.setattr(module, "FILES", f"{base}/")
        root = tmp_path / "root"
        with pytest.raises(ValueError, match="no published flow"):
            DSECFlow(root, recordings=["interlaken_00_c"], download=True)
        data = DSECFlow(root, recordings=["thun_00_a"], download=True)
        assert len(data) == 2 and len(asked) == 3 and not list(root.glob("**/*.zip"))
        reference = DSECFlow(made)
        assert np.array_equal(data[1][0], reference[1][0])
        DSECFlow(root, recordings=["thun_00_a"], download=True)
        assert len(asked) == 3  # present: nothing fetched again
        with pytest.raises(ConnectionError, match="404"):
            DSECFlow(root, recordings=["zurich_city_01_a"], download=True)
