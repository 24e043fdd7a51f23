"""Damaged event files (containers, AEDAT 4 and the stream formats): every case ends in a clear
error naming the file, or in events that respect the file's own declarations.

Deterministic (seeded): for each format, truncations at fixed fractions and at every
byte of the first 64, single-byte flips at seeded positions, and the file read under each
other container format's name. Outcomes are counted per class; no other exception may
escape. The stream formats (EVT 2.0/3.0, DAT, AEDAT 2/3, N-MNIST) get the same cuts and
flips; a flipped byte in their payload is another valid event (nothing checks it).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from spikestack.data import EventFormatError, read_events, write_events
from spikestack.data.events import make_events

CONTAINERS = {"npy": ".npy", "npz": ".npz", "mat": ".mat", "hdf5": ".h5"}
# AEDAT 4 (FlatBuffers packets, plain / LZ4 / zstd): damage sweep of its own below
AEDAT4 = {
    "aedat4": {},
    "aedat4-lz4": {"compression": "lz4"},
    "aedat4-zstd": {"compression": "zstd"},
}
SIZE = (34, 34, 2)


def sample() -> np.ndarray:
    rng = np.random.default_rng(0)
    n = 400
    return make_events(
        np.sort(rng.integers(0, 100_000, n)), rng.integers(0, 34, n), rng.integers(0, 34, n),
        rng.integers(0, 2, n),
    )  # fmt: skip


def damaged_versions(data: bytes, seed: int) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(seed)
    cases = [(f"cut@{k}", data[:k]) for k in range(0, min(64, len(data)))]
    cases += [(f"cut@{f:.2f}", data[: int(len(data) * f)]) for f in (0.25, 0.5, 0.75, 0.99)]
    for position in rng.integers(0, len(data), 40):
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        cases.append((f"flip@{position}", bytes(flipped)))
    return cases


def outcome(path: Path, fmt: str) -> str:
    try:
        events, meta = read_events(path, format=fmt, return_meta=True)
    except EventFormatError as err:
        assert str(path) in str(err), f"the error does not name the file: {err}"
        return "clear error"
    size = meta.get("sensor_size")
    assert events.dtype.names[0] == "t" and events["t"].dtype == np.int64
    if size is not None and len(events):
        assert int(events["x"].max()) < size[0]
        if "y" in events.dtype.names:
            assert int(events["y"].max()) < size[1]
    return "valid events"


def sweep(original: Path, fmt: str, *, seed: int, label: str) -> Counter[str]:
    """Read every damaged version of ``original`` as ``fmt``; the outcome classes counted.
    Anything other than a clear error or valid events fails, naming the case."""
    counts: Counter[str] = Counter()
    for i, (damage, content) in enumerate(damaged_versions(original.read_bytes(), seed)):
        case = original.with_name(f"case{i}{original.suffix}")
        case.write_bytes(content)
        try:
            counts[outcome(case, fmt)] += 1
        except AssertionError as err:
            raise AssertionError(f"{label} {damage}: {err}") from err
        except Exception as err:  # noqa: BLE001 - anything else is a raw exception: a bug
            raise AssertionError(f"{label} {damage}: raw {type(err).__name__}: {err}") from err
    return counts


@pytest.mark.filterwarnings("ignore:.*timestamps are not non-decreasing")  # a flipped time
@pytest.mark.parametrize("fmt", sorted(CONTAINERS))
def test_damaged_container_files(tmp_path, fmt: str) -> None:
    original = tmp_path / f"events{CONTAINERS[fmt]}"
    write_events(original, sample(), format=fmt, sensor_size=SIZE)
    counts = sweep(original, fmt, seed=len(fmt), label=fmt)
    assert counts["clear error"] > 0 and sum(counts.values()) >= 100


@pytest.mark.parametrize("fmt", sorted(CONTAINERS))
def test_each_container_read_under_the_other_names(tmp_path, fmt: str) -> None:
    path = tmp_path / f"events{CONTAINERS[fmt]}"
    write_events(path, sample(), format=fmt, sensor_size=SIZE)
    for other in sorted(set(CONTAINERS) - {fmt}):
        with pytest.raises(EventFormatError, match=str(path.name)):
            read_events(path, format=other)


def test_declared_sensor_sizes_hold_and_bad_times_are_refused(tmp_path) -> None:
    events = sample()
    npz = tmp_path / "small.npz"
    np.savez(npz, t=events["t"], x=events["x"], y=events["y"], p=events["p"],
             sensor_size=np.array([10, 10, 2]))  # fmt: skip
    with pytest.raises(EventFormatError, match=r"outside the declared sensor size \(10, 10, 2\)"):
        read_events(npz)
    np.savez(npz, t=events["t"], x=events["x"], y=events["y"], p=events["p"],
             sensor_size=np.array(["34", "34", "2"]))  # fmt: skip
    with pytest.raises(EventFormatError, match="sensor_size must be a 1-D integer array"):
        read_events(npz)
    huge = tmp_path / "huge.npz"
    np.savez(huge, t=np.array([1, 2**63 + 5], dtype=np.uint64), x=np.array([1, 2]))
    with pytest.raises(EventFormatError, match="above 2\\^63"):
        read_events(huge)
    from scipy.io import savemat

    mat = tmp_path / "nan.mat"
    savemat(mat, {"x": [1.0], "y": [2.0], "ts": [float("nan")], "pol": [1.0]})
    with pytest.raises(EventFormatError, match="non-finite"):
        read_events(mat)


STREAMS = {"evt2": ".raw", "evt3": ".raw3", "dat": ".dat", "aedat2": ".aedat",
           "aedat3": ".aedat3", "nmnist": ".bin"}  # fmt: skip


@pytest.mark.filterwarnings("ignore")  # sorted times, dropped or damaged words are warned
@pytest.mark.parametrize("fmt", sorted(STREAMS))
def test_damaged_stream_files(tmp_path, fmt: str) -> None:
    original = tmp_path / f"events{STREAMS[fmt]}"
    write_events(original, sample(), format=fmt, sensor_size=SIZE)
    assert sweep(original, fmt, seed=11, label=fmt)["clear error"] > 0


@pytest.mark.filterwarnings("ignore:.*timestamps are not non-decreasing")
@pytest.mark.filterwarnings("ignore:.*stream ids the header does not declare")
@pytest.mark.parametrize("variant", sorted(AEDAT4))
def test_damaged_aedat4_files(tmp_path, variant: str) -> None:
    original = tmp_path / "events.aedat4"
    write_events(original, sample(), format="aedat4", sensor_size=SIZE, **AEDAT4[variant])
    assert sweep(original, "aedat4", seed=7, label=variant)["clear error"] > 0


def test_aedat4_packets_of_undeclared_streams_are_counted(tmp_path) -> None:
    import struct

    from spikestack.data.io import _flatbuffers as fb

    path = tmp_path / "rec.aedat4"
    write_events(path, sample(), format="aedat4", sensor_size=SIZE)
    packet = fb.event_packet(bytes(16), 1)  # one event, in a stream the header never named
    path.write_bytes(path.read_bytes() + struct.pack("<ii", 9, len(packet)) + packet)
    with pytest.warns(UserWarning, match=r"skipped 1 packet\(s\) of stream ids the header does"):
        events = read_events(path)
    assert len(events) == len(sample())


EXTENSIONS = {"npy": ".npy", "npz": ".npz", "mat": ".mat", "hdf5": ".h5", "aedat4": ".aedat4",
              "aedat2": ".aedat", "aedat3": ".aedat3", "dat": ".dat", "evt2": ".raw",
              "evt3": ".raw3", "nmnist": ".bin"}  # fmt: skip
# headerless formats cannot tell each other apart: N-MNIST's 5-byte words read as SLAYER .bs1
UNDETECTABLE = {("nmnist", "bs1")}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("n", [10, 1000])  # 1000: e.g. a DAT body also decodes as EVT words
def test_every_2d_format_read_under_every_other_name_is_refused(tmp_path, n) -> None:
    refused = 0
    rng = np.random.default_rng(n)
    events = make_events(
        np.sort(rng.integers(0, 10**6, n)), rng.integers(0, 5, n), rng.integers(0, 5, n),
        rng.integers(0, 2, n),
    )  # fmt: skip
    for fmt, ext in EXTENSIONS.items():
        path = tmp_path / f"events_{fmt}{ext}"
        write_events(path, events, format=fmt, sensor_size=(5, 5, 2))
        for other in sorted(set(EXTENSIONS) | {"aer", "bs1"}):
            if other == fmt or (fmt, other) in UNDETECTABLE:
                continue
            with pytest.raises(EventFormatError, match=path.name):
                read_events(path, format=other)
            refused += 1
    assert refused == len(EXTENSIONS) * 12 - len(UNDETECTABLE)


def test_make_events_refuses_values_that_would_wrap() -> None:
    with pytest.raises(ValueError, match=r"x has values in \[0, 70000\], outside"):
        make_events([0, 1], [0, 70000], [0, 0])
    with pytest.raises(ValueError, match=r"p has values in \[-1, 300\]"):
        make_events([0, 1], [0, 1], [0, 0], [-1, 300])
    with pytest.raises(ValueError, match="t must hold whole numbers"):
        make_events([0.5, float("nan")], [0, 1], [0, 0])
    assert make_events(np.array([2.0, 1.0]), [1, 2], [3, 4])["t"].tolist() == [1, 2]
