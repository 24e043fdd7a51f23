"""Decode speed of spikestack's event readers next to expelliarmus and tonic.

    python benchmarks/io.py [--data ../shared/data] [--repeat 7] [--scale 20]

Prints events/s (best of ``--repeat`` runs after one warm-up) for EVT 2.0, EVT 3.0, DAT,
N-MNIST and AEDAT 4, and the ratio spikestack / peer (tonic reads AEDAT 4 with the Rust
``aedat`` package, when installed). The Prophesee sample files are small,
so each is also tiled ``--scale`` times into a larger temporary file (data section
repeated; for EVT files this restarts the clock, which every decoder tolerates).
N-MNIST is timed over all 1000 ``.bs2`` files (a dataset pass). expelliarmus and tonic
are peers for comparison only; a missing peer gets a printed reason instead of a column.
(expelliarmus prints "WARNING: The timestamps are not monotonic." for the tiled EVT files,
whose clock restarts at each copy; the event counts still agree.)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spikestack.data import read_events

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def best_time(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    n = fn()  # warm-up (numba cache load, page cache)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best, n


def tile(src: Path, dst: Path, times: int) -> Path:
    """Copy ``src``'s ``%`` header, then its data section ``times`` times.

    For ``.dat`` (type/size bytes, then (t, data) uint32 pairs) each copy is shifted in
    time so the result stays sorted; EVT files simply restart their clock per copy.
    """
    raw = src.read_bytes()
    offset = 0
    while raw.startswith(b"%", offset):
        offset = raw.index(b"\n", offset) + 1
    if src.suffix != ".dat":
        dst.write_bytes(raw[:offset] + raw[offset:] * times)
        return dst
    pairs = np.frombuffer(raw, dtype="<u4", offset=offset + 2).reshape(-1, 2)
    span = int(pairs[-1, 0]) + 1
    copies = np.tile(pairs, (times, 1))
    copies[:, 0] += np.repeat(np.arange(times, dtype=np.uint32) * span, pairs.shape[0])
    dst.write_bytes(raw[: offset + 2] + copies.tobytes())
    return dst


def big_aedat4(path: Path, n: int, compression: str) -> Path:
    """``n`` random events (640 x 480, sorted) written as AEDAT 4 with spikestack's writer."""
    from spikestack.data import write_events
    from spikestack.data.events import make_events

    rng = np.random.default_rng(0)
    events = make_events(
        np.sort(rng.integers(0, 10_000_000, n)), rng.integers(0, 640, n),
        rng.integers(0, 480, n), rng.integers(0, 2, n),
    )  # fmt: skip
    return write_events(path, events, sensor_size=(640, 480, 2), compression=compression)


def peers() -> tuple[dict[str, Callable[[Path], int]], dict[str, Callable[[Path], int]], list[str]]:
    notes: list[str] = []
    expelliarmus: dict[str, Callable[[Path], int]] = {}
    tonic_readers: dict[str, Callable[[Path], int]] = {}
    try:
        from expelliarmus import Wizard

        for enc in ("evt2", "evt3", "dat"):
            wizard = Wizard(encoding=enc)
            expelliarmus[enc] = lambda p, w=wizard: len(w.read(p))
    except Exception as err:  # noqa: BLE001 - any import/setup failure skips the column
        notes.append(f"expelliarmus skipped: {type(err).__name__}: {err}")
    try:
        import tonic.io

        dtype = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
        tonic_readers["nmnist"] = lambda p: len(tonic.io.read_mnist_file(str(p), dtype=dtype))
        try:
            import aedat  # noqa: F401 - tonic's AEDAT 4 reader is this Rust decoder

            tonic_readers["aedat4"] = lambda p: len(tonic.io.read_aedat4(str(p)))
        except ImportError:
            notes.append("tonic's AEDAT 4 reader needs the `aedat` package: pip install aedat")
        notes.append(
            "tonic has no EVT 2.0 / EVT 3.0 / DAT reader in tonic.io: its column is n/a there"
        )
    except Exception as err:  # noqa: BLE001
        notes.append(f"tonic skipped: {type(err).__name__}: {err}")
    return expelliarmus, tonic_readers, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--scale", type=int, default=20)
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"sample data folder {args.data} not found; pass --data")
    expelliarmus, tonic, notes = peers()
    prophesee = args.data / "prophesee"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        cases: list[tuple[str, str, list[Path]]] = [
            ("evt2", "evt2_sample.raw", [prophesee / "evt2_sample.raw"]),
            ("evt2", f"evt2_sample x{args.scale}", [tile(prophesee / "evt2_sample.raw", tmp_path / "e2.raw", args.scale)]),
            ("evt3", "evt3_sample.raw", [prophesee / "evt3_sample.raw"]),
            ("evt3", f"evt3_sample x{args.scale}", [tile(prophesee / "evt3_sample.raw", tmp_path / "e3.raw", args.scale)]),
            ("dat", "ncars_obj_004397_td.dat", [prophesee / "ncars_obj_004397_td.dat"]),
            ("dat", f"ncars .dat x{args.scale * 25}", [tile(prophesee / "ncars_obj_004397_td.dat", tmp_path / "n.dat", args.scale * 25)]),
            ("nmnist", "nmnist_small 1000 x .bs2", sorted((args.data / "nmnist_small").glob("*.bs2"))),
            ("aedat4", "sample.aedat4 (LZ4)", [args.data / "tonic_samples" / "sample.aedat4"]),
            ("aedat4", "2M events, LZ4", [big_aedat4(tmp_path / "big.aedat4", 2_000_000, "lz4")]),
            ("aedat4", "2M events, plain", [big_aedat4(tmp_path / "plain.aedat4", 2_000_000, "none")]),
        ]  # fmt: skip
        rows = []
        for fmt, label, files in cases:
            ours, n = best_time(
                lambda files=files: sum(len(read_events(f)) for f in files), args.repeat
            )
            row = [fmt, label, f"{n:,}", f"{n / ours / 1e6:8.1f}"]
            for peer in (expelliarmus, tonic):
                if fmt in peer:
                    theirs, m = best_time(
                        lambda files=files, r=peer[fmt]: sum(r(f) for f in files), args.repeat
                    )
                    same = "" if m == n else f" (peer: {m:,} ev)"
                    row += [f"{m / theirs / 1e6:8.1f}", f"{(n / ours) / (m / theirs):5.2f}x{same}"]
                else:
                    row += ["n/a", "n/a"]
            rows.append(row)
    head = [
        "format",
        "file",
        "events",
        "spikestack Mev/s",
        "expelliarmus Mev/s",
        "ratio",
        "tonic Mev/s",
        "ratio",
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, ["-" * w for w in widths], *rows]:
        print(" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    for note in notes:
        print("note:", note)
    print("ratio = spikestack events/s / peer events/s (target: >= 0.5x expelliarmus, > 1x tonic)")


if __name__ == "__main__":
    main()
