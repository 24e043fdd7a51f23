"""read_events(write_events(path, events, format=f)) gives back ``events`` for every format:
same dtype, values and order, and the sensor size where the format records one; for 2-D
and (where the format holds them) 1-D events, empty arrays, and events at the format's
limits, timestamps that need its time-high / overflow words included. Events a format
cannot hold are a ValueError naming the file, the field and the limit.

Refusals, documented behaviours and the writers' bytes against the hand-built encodings
are in test_io_writers.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from _data import random_events

from spikestack.data import EVENT_DTYPE, EVENT_DTYPE_1D, iter_events, read_events, write_events


@dataclass(frozen=True)
class Spec:
    """What a format holds: its limits, inclusive, and a sensor size it records."""

    ext: str
    dims: tuple[int, ...]
    x_max: int
    y_max: int
    t_max: int
    p: tuple[int, ...] = (0, 1)
    sensor: tuple[int, ...] | None = None  # recorded and read back; None: records none
    times: tuple[int, ...] = ()  # timestamps next to its time-word boundaries
    options: dict = field(default_factory=dict)


I64 = 2**63 - 1
SPECS = {
    "nmnist": Spec(".bin", (2,), 255, 239, 2**32 - 1, times=(2**23 - 1, 2**23, 2**23 + 2**13)),
    "bs1": Spec(".bs1", (1,), 65535, 0, 2**23 - 1),
    "evt2": Spec(
        ".raw", (2,), 2047, 2047, 2**40 - 1, sensor=(640, 480, 2), times=(63, 64, 2**34 - 1, 2**34)
    ),
    "evt3": Spec(
        ".raw",
        (2,),
        2047,
        2047,
        2**40 - 1,
        sensor=(1280, 720, 2),
        times=(4095, 4096, 2**24 - 1, 2**24),
    ),
    "dat": Spec(".dat", (2,), 16383, 16383, 2**32 - 1, p=tuple(range(16)), sensor=(304, 240, 2)),
    "aedat2": Spec(".aedat", (2,), 1023, 511, 2**31 - 1, sensor=(346, 260, 2)),
    "aedat3": Spec(
        ".aedat", (2,), 32767, 32767, 2**62 - 1, sensor=(128, 128, 2), times=(2**31 - 1, 2**31)
    ),
    "aedat4": Spec(".aedat4", (2,), 32767, 32767, I64, sensor=(320, 240, 2)),
    "aer": Spec(".aedat", (1,), 65535, 0, 2**32 - 1, p=(1,)),
    "hdf5": Spec(".h5", (1, 2), 65535, 65535, I64, p=(-128, 0, 1, 127), sensor=(700, 1, 1)),
    "mat": Spec(".mat", (2,), 65535, 65535, I64, p=(-128, 0, 1, 127), sensor=(65536, 65536, 2)),
    "npy": Spec(".npy", (1, 2), 65535, 65535, I64, p=(-128, 0, 1, 127)),
    "npz": Spec(".npz", (1, 2), 65535, 65535, I64, p=(-128, 0, 1, 127), sensor=(346, 260, 2)),
}
CASES = [(f, d) for f, s in SPECS.items() for d in s.dims]
IDS = [f"{f}-{d}d" for f, d in CASES]


def events_for(spec: Spec, dims: int, n: int, *, seed: int = 0, t_max: int | None = None):
    """Sorted random events inside ``spec``'s limits (and its sensor, if any)."""
    width = spec.x_max + 1 if spec.sensor is None else spec.sensor[0]
    height = spec.y_max + 1 if spec.sensor is None else spec.sensor[1]
    ev = random_events(
        n, width=width, height=height if dims == 2 else None, t_max=t_max or 2**20, seed=seed
    )
    ev["p"] = np.random.default_rng(seed).choice(spec.p, n)
    return ev


def round_trip(tmp_path, fmt: str, events: np.ndarray, *, sensor_size=None, name="rec"):
    spec = SPECS[fmt]
    path = write_events(
        tmp_path / f"{name}{spec.ext}", events, format=fmt, sensor_size=sensor_size, **spec.options
    )
    assert path == tmp_path / f"{name}{spec.ext}"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp
    back, meta = read_events(path, format=fmt, return_meta=True, **spec.options)
    assert back.dtype == events.dtype and meta["format"] == fmt
    np.testing.assert_array_equal(back, events)
    return back, meta


@pytest.mark.parametrize(("fmt", "dims"), CASES, ids=IDS)
def test_random_events_come_back(tmp_path, fmt, dims) -> None:
    spec = SPECS[fmt]
    events = events_for(spec, dims, 3000, t_max=min(spec.t_max, 2**36))
    _, meta = round_trip(tmp_path, fmt, events, sensor_size=spec.sensor)
    if spec.sensor is not None:
        assert meta["sensor_size"] == spec.sensor
    chunks = list(iter_events(tmp_path / f"rec{spec.ext}", chunk=97, format=fmt, **spec.options))
    np.testing.assert_array_equal(np.concatenate(chunks), events)  # state across blocks


@pytest.mark.parametrize(("fmt", "dims"), CASES, ids=IDS)
def test_empty_events_come_back(tmp_path, fmt, dims) -> None:
    events = np.empty(0, dtype=EVENT_DTYPE if dims == 2 else EVENT_DTYPE_1D)
    _, meta = round_trip(tmp_path, fmt, events, sensor_size=SPECS[fmt].sensor)
    if SPECS[fmt].sensor is not None:
        assert meta["sensor_size"] == SPECS[fmt].sensor


@pytest.mark.parametrize(("fmt", "dims"), CASES, ids=IDS)
def test_events_at_the_limits_come_back(tmp_path, fmt, dims) -> None:
    """Largest coordinates, every polarity, t = 0, t next to each time-word boundary, the
    largest t; several events on one timestamp; gaps that skip whole time-word periods."""
    spec = SPECS[fmt]
    times = sorted({0, 1, *spec.times, spec.t_max // 3, spec.t_max - 1, spec.t_max})
    rows = []
    for t in times:
        for p in spec.p:
            rows.append((t, spec.x_max, spec.y_max, p))
            rows.append((t, 0, spec.y_max // 2, p))
    events = np.zeros(len(rows), dtype=EVENT_DTYPE if dims == 2 else EVENT_DTYPE_1D)
    for name, column in zip(("t", "x", "y", "p"), zip(*rows, strict=True), strict=True):
        if name in events.dtype.names:
            events[name] = column
    sensor = None if fmt != "mat" else spec.sensor  # .mat without one is a 240 x 180 ASL-DVS
    round_trip(tmp_path, fmt, events, sensor_size=sensor)


def test_timestamp_overflow_words_are_streamed(tmp_path) -> None:
    """Files whose time needs overflow markers / wraps decode the same block by block."""
    for fmt, t_max in (("nmnist", 2**26), ("evt2", 2**37), ("evt3", 2**28), ("aedat3", 2**34)):
        events = events_for(SPECS[fmt], 2, 2000, seed=1, t_max=t_max)
        round_trip(tmp_path, fmt, events, name=fmt)
        path = tmp_path / f"{fmt}{SPECS[fmt].ext}"
        for chunk in (1, 7, 500):
            got = np.concatenate(list(iter_events(path, chunk=chunk, format=fmt)))
            np.testing.assert_array_equal(got, events)


@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
def test_aedat4_compressions_and_packets(tmp_path, compression) -> None:
    from spikestack.data.io import aedat4

    events = events_for(SPECS["aedat4"], 2, 1000)
    events["t"] += 1_605_537_493_718_345  # DV writes Unix-epoch microseconds
    path = write_events(
        tmp_path / "a.aedat4",
        events,
        compression=compression,
        packet_events=300,
        sensor_size=(320, 240),
    )
    header = aedat4.read_header(path)
    assert header["compression"] == {"none": 0, "lz4": 1, "zstd": 3}[compression]
    assert header["streams"] == {0: {"type": "EVTS", "size": (320, 240)}}
    back, meta = read_events(path, return_meta=True)
    np.testing.assert_array_equal(back, events)
    assert meta["sensor_size"] == (320, 240, 2)


def test_aedat3_packets_split_by_size_and_overflow(tmp_path) -> None:
    import struct

    events = events_for(SPECS["aedat3"], 2, 50, t_max=2**32)
    path = write_events(tmp_path / "g.aedat", events, format="aedat3", packet_events=8)
    data = path.read_bytes()
    pos, packets = data.index(b"#!END-HEADER\r\n") + 14, []
    while pos < len(data):
        kind, _, size, _, overflow, _, number, _ = struct.unpack_from("<hhiiiiii", data, pos)
        packets.append((kind, overflow, number))
        pos += 28 + size * number
    assert all(kind == 1 and 1 <= number <= 8 for kind, _, number in packets)
    assert sum(number for *_, number in packets) == 50
    overflows = [o for _, o, _ in packets]
    assert overflows == sorted(overflows) and set(overflows) == set((events["t"] >> 31).tolist())
    np.testing.assert_array_equal(read_events(path), events)


def test_foreign_integer_dtypes_come_back_canonical(tmp_path) -> None:
    foreign = np.zeros(4, dtype=[("t", "<u4"), ("x", "<i4"), ("y", "<i2"), ("p", "u1")])
    foreign["t"], foreign["x"], foreign["y"], foreign["p"] = (
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        3,
        [0, 1, 1, 0],
    )
    for fmt in ("evt3", "npz"):
        back = read_events(write_events(tmp_path / f"f{SPECS[fmt].ext}", foreign, format=fmt))
        assert back.dtype == EVENT_DTYPE
        for name in "txyp":
            np.testing.assert_array_equal(back[name], foreign[name])
