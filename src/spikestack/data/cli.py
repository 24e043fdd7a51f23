"""``spikestack data``: inspect event files, render them, convert images with ODG.

spikestack data info FILE            counts, duration, resolution, rate, polarity balance
spikestack data show FILE --out x.png|x.gif [--frames N]
spikestack data odg IN_DIR OUT_DIR   images -> one event file per image (ES-ImageNet ODG)
spikestack data convert IN OUT [--format F] [--in-format F]   any readable file -> any format
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spikestack.argtypes import non_negative_int, positive_float, positive_int, within


def register(subparsers: Any) -> None:
    """Add the ``data`` command and its subcommands to the ``spikestack`` parser."""
    data = subparsers.add_parser("data", help="inspect, render and convert event data")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    info = sub.add_parser("info", help="summary of an event file")
    info.add_argument("file", type=Path)
    info.add_argument("--format", default=None, help="force a reader (see spikestack.data.io)")
    info.set_defaults(func=_info)

    show = sub.add_parser("show", help="render an event file as frames (.png grid or .gif)")
    show.add_argument("file", type=Path)
    show.add_argument("--out", type=Path, required=True, help="output .png or .gif")
    show.add_argument(
        "--frames", type=positive_int, default=None,
        help="number of time bins (default: one per 20,000 events, 1 to 8)",
    )  # fmt: skip
    show.add_argument("--format", default=None)
    show.add_argument("--fps", type=positive_float, default=4.0, help="gif frame rate (default 4)")
    show.add_argument(
        "--no-crop", dest="crop", action="store_false",
        help="show the whole sensor (default: crop to where the events are)",
    )  # fmt: skip
    show.add_argument(
        "--percentile", type=within(0.0, 100.0, strict=True), default=99.0,
        help="counts at this percentile of the busy pixels are full brightness (default 99)",
    )  # fmt: skip
    show.set_defaults(func=_show)

    odg = sub.add_parser("odg", help="convert a folder of images to events (ES-ImageNet ODG)")
    odg.add_argument("in_dir", type=Path)
    odg.add_argument("out_dir", type=Path)
    odg.add_argument("--ext", default=".npz", choices=[".npz", ".npy", ".h5"])
    odg.add_argument(
        "--min-events",
        type=non_negative_int,
        default=0,
        help="skip images with fewer events (ES-ImageNet: 1000)",
    )
    odg.set_defaults(func=_odg)

    convert = sub.add_parser("convert", help="convert an event file to another format")
    convert.add_argument("input", type=Path, metavar="IN")
    convert.add_argument("output", type=Path, metavar="OUT")
    convert.add_argument(
        "--format", default=None, help="output format (default: from OUT's extension)"
    )
    convert.add_argument("--in-format", default=None, help="force the reader for IN")
    convert.set_defaults(func=_convert)


def _load(args: argparse.Namespace) -> tuple[Any, tuple[int, int, int]]:
    from spikestack.data import read_events

    events, meta = read_events(args.file, format=args.format, return_meta=True)
    size = meta.get("sensor_size")
    if size is None or len(size) != 3:  # unknown sensor: the smallest one that holds the events
        w = int(events["x"].max()) + 1 if len(events) else 1
        h = int(events["y"].max()) + 1 if len(events) and "y" in events.dtype.names else 1
        size = (w, h, 2)
    return events, (int(size[0]), int(size[1]), int(size[2]))


def _fail(exc: Exception) -> int:
    print(f"spikestack data: error: {exc}", file=sys.stderr)
    return 2


def _info(args: argparse.Namespace) -> int:
    from spikestack.data import EventFormatError

    try:
        events, size = _load(args)
    except (FileNotFoundError, EventFormatError, ValueError) as exc:
        return _fail(exc)
    n = len(events)
    duration = (int(events["t"].max() - events["t"].min()) * 1e-6) if n else 0.0
    on = int((events["p"] > 0).sum())
    print(f"file:        {args.file}")
    print(f"events:      {n}")
    print(f"duration:    {duration:.6f} s")
    if n:
        print(f"time range:  {int(events['t'].min())} .. {int(events['t'].max())} us")
    kind = "1-D" if "y" not in events.dtype.names else "2-D"
    print(f"resolution:  {size[0]} x {size[1]} ({kind}, {size[2]} polarities)")
    rate = n / duration if duration > 0 else float("nan")
    print(f"event rate:  {rate:.1f} ev/s")
    print(f"polarity:    {on} ON / {n - on} OFF ({(on / n if n else 0.0):.1%} ON)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from spikestack.data import EventFormatError

    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".gif"):
        return _fail(ValueError(f"--out must end in .png or .gif; got {args.out}"))
    if args.frames is not None and args.frames < 1:
        return _fail(ValueError(f"--frames must be >= 1; got {args.frames}"))
    try:
        events, size = _load(args)
    except (FileNotFoundError, EventFormatError, ValueError) as exc:
        return _fail(exc)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    from spikestack.data.picture import event_rgb
    from spikestack.data.transforms import ToFrame

    bins = args.frames or int(min(max(len(events) // 20_000, 1), 8))
    frames = ToFrame(size, n_time_bins=bins)(events)  # [T, P, H, W]
    images = event_rgb(frames, percentile=args.percentile, crop=args.crop)
    aspect = "equal" if size[1] > 1 else "auto"  # 1-D sensors: stretch the single row
    style = {"interpolation": "nearest", "aspect": aspect}
    plt.style.use("dark_background")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        cols = min(len(images), 4)
        rows = -(-len(images) // cols)
        panel = 6 if cols == 1 else 3.5
        fig, axes = plt.subplots(rows, cols, figsize=(panel * cols, panel * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for i, img in enumerate(images):
            axes.flat[i].imshow(img, **style)
            axes.flat[i].set_title(f"bin {i}")
        fig.suptitle(f"{args.file.name}: {len(events)} events (green ON, magenta OFF)")
        fig.savefig(args.out, dpi=80)
    else:
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.axis("off")
        shown = ax.imshow(images[0], **style)

        def update(i: int) -> list:
            shown.set_data(images[i])
            ax.set_title(f"bin {i} / {len(images)}")
            return [shown]

        FuncAnimation(fig, update, frames=len(images)).save(
            args.out, writer=PillowWriter(fps=args.fps)
        )
    plt.close(fig)
    height, width = images.shape[1:3]
    print(f"wrote {args.out} ({len(images)} frames, {width} x {height} of {size[0]} x {size[1]})")
    return 0


def _odg(args: argparse.Namespace) -> int:
    from spikestack.data.odg import convert_folder

    if not args.in_dir.is_dir():
        return _fail(FileNotFoundError(f"IN_DIR {args.in_dir} is not a folder"))
    written = convert_folder(args.in_dir, args.out_dir, ext=args.ext, min_events=args.min_events)
    print(f"wrote {len(written)} event files to {args.out_dir}")
    return 0 if written else 1


def _convert(args: argparse.Namespace) -> int:
    from spikestack.data import read_events, write_events
    from spikestack.data.io import FORMATS, writer_format

    try:
        fmt = writer_format(args.output, args.format)  # a bad OUT fails before IN is read
        events, meta = read_events(args.input, format=args.in_format, return_meta=True)
        if not args.output.parent.is_dir():
            raise FileNotFoundError(f"the folder of OUT, {args.output.parent}, does not exist")
        # the writer checks the events and, where the format can, records the sensor size;
        # it writes atomically, so a refused conversion leaves no partial OUT
        write_events(args.output, events, format=fmt, sensor_size=meta.get("sensor_size"))
    except (OSError, ValueError, ImportError) as exc:  # EventFormatError is a ValueError
        return _fail(exc)
    print(f"wrote {args.output}: {len(events)} events as {fmt} ({FORMATS[fmt].description})")
    return 0
