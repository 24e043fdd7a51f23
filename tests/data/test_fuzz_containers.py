"""Damaged event files (containers, AEDAT 4 and the stream formats): every case ends in a clear
error naming the file, or in events that respect the file's own declarations.

Deterministic (seeded): for each format, truncations at fixed fractions and at every
byte of the first 64, single-byte flips at seeded positions, and the file read under each
other container format's name. Outcomes are counted per class; no other exception may
escape. The stream formats (EVT 2.0/3.0, DAT, AEDAT 2/3, N-MNIST) get the same cuts and
flips; a flipped byte in their payload is another valid event (nothing checks it).
"""

from __future__ import annotations

import warnings
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


def damaged_versions(
    data: bytes, seed: int, *, head: int = 64, flips: int = 40, smears: int = 0
) -> list[tuple[str, bytes]]:
    """Cuts at each of the first ``head`` bytes and at 25/50/75/99 %, ``flips`` single-byte
    flips and ``smears`` runs of 8 random bytes, at seeded positions."""
    rng = np.random.default_rng(seed)
    cases = [(f"cut@{k}", data[:k]) for k in range(0, min(head, len(data)))]
    cases += [(f"cut@{f:.2f}", data[: int(len(data) * f)]) for f in (0.25, 0.5, 0.75, 0.99)]
    for position in rng.integers(0, len(data), flips):
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        cases.append((f"flip@{position}", bytes(flipped)))
    for position in rng.integers(0, len(data), smears):
        smeared = bytearray(data)
        smeared[position : position + 8] = rng.bytes(len(smeared[position : position + 8]))
        cases.append((f"smear@{position}", bytes(smeared)))
    return cases


def outcome(path: Path, fmt: str) -> str:
    """'clear error', 'valid events, warned' (what was dropped, sorted or damaged is counted
    in a warning naming the file) or 'valid events' (damage nothing can detect)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            events, meta = read_events(path, format=fmt, return_meta=True)
        except EventFormatError as err:
            assert str(path) in str(err), f"the error does not name the file: {err}"
            return "clear error"
    for warning in caught:
        assert str(path) in str(warning.message), f"a warning without the file: {warning}"
    size = meta.get("sensor_size")
    assert events.dtype.names[0] == "t" and events["t"].dtype == np.int64
    if len(events):  # impossible times: negative, or out of order
        assert int(events["t"].min()) >= 0, f"negative time {int(events['t'].min())}"
        assert bool(np.all(np.diff(events["t"]) >= 0)), "events not sorted by time"
    if size is not None and len(events):
        assert int(events["x"].max()) < size[0]
        if "y" in events.dtype.names:
            assert int(events["y"].max()) < size[1]
    return "valid events, warned" if caught else "valid events"


def sweep(original: Path, fmt: str, *, seed: int, label: str, **damage: int) -> Counter[str]:
    """Read every damaged version of ``original`` as ``fmt`` (``damage``: how many, see
    :func:`damaged_versions`); the outcome classes counted. Anything other than a clear
    error or valid events fails, naming the case."""
    counts: Counter[str] = Counter()
    versions = damaged_versions(original.read_bytes(), seed, **damage)
    for i, (damage, content) in enumerate(versions):
        case = original.with_name(f"case{i}{original.suffix}")
        case.write_bytes(content)
        try:
            counts[outcome(case, fmt)] += 1
        except AssertionError as err:
            raise AssertionError(f"{label} {damage}: {err}") from err
        except Exception as err:  # noqa: BLE001 - anything else is a raw exception: a bug
            raise AssertionError(f"{label} {damage}: raw {type(err).__name__}: {err}") from err
    return counts


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


@pytest.mark.parametrize("fmt", sorted(STREAMS))
def test_damaged_stream_files(tmp_path, fmt: str) -> None:
    original = tmp_path / f"events{STREAMS[fmt]}"
    write_events(original, sample(), format=fmt, sensor_size=SIZE)
    assert sweep(original, fmt, seed=11, label=fmt)["clear error"] > 0


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


LONG = {**{f: (CONTAINERS[f], {}) for f in CONTAINERS}, **{f: (STREAMS[f], {}) for f in STREAMS},
        **{v: (".aedat4", AEDAT4[v]) for v in AEDAT4}}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(LONG))
def test_long_damage_sweep(tmp_path, variant: str) -> None:
    """Every format, three seeds: cuts at each of the first 256 bytes, 300 flips and 100
    runs of random bytes per seed (about 2,000 cases a format)."""
    suffix, options = LONG[variant]
    fmt = "aedat4" if variant.startswith("aedat4") else variant
    original = tmp_path / f"events{suffix}"
    write_events(original, sample(), format=fmt, sensor_size=SIZE, **options)
    counts: Counter[str] = Counter()
    for seed in range(3):
        counts += sweep(original, fmt, seed=100 + seed, label=variant, head=256, flips=300,
                        smears=100)  # fmt: skip
    assert counts["clear error"] > 0 and sum(counts.values()) > 1000


def test_a_damaged_mat_type_byte_is_an_error_not_a_crash(tmp_path) -> None:
    """scipy's C reader trusts element types: this one flip crashed the process (found by
    the long sweep); the element walk before scipy refuses it."""
    from scipy.io import savemat

    path = write_events(tmp_path / "events.mat", sample(), sensor_size=SIZE)
    data = bytearray(path.read_bytes())
    tag = data.rindex(bytes([12, 0, 0, 0, 24, 0, 0, 0]))  # sensor_size's miINT64 values
    data[tag] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        EventFormatError, match=r"events\.mat: damaged \.mat file: unknown data type 243"
    ):
        read_events(path)
    packed = tmp_path / "packed.mat"
    savemat(packed, {"x": [1], "y": [2], "ts": [3], "pol": [1]}, do_compression=True)
    assert len(read_events(packed)) == 1  # compressed elements are walked too
    data = bytearray(packed.read_bytes())
    data[140] ^= 0xFF  # inside the first compressed element
    packed.write_bytes(bytes(data))
    with pytest.raises(EventFormatError, match="packed.mat"):
        read_events(packed)
