"""``spikestack export``, ``energy`` and ``map``: a run folder's network to NIR, its synaptic
operations and energy measured on data, and its placement on a many-core chip (see
:mod:`spikestack.deploy`).

They live on train's side because they read run folders; train/cli.py registers them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spikestack.argtypes import non_negative_float, positive_float, positive_int
from spikestack.train.run import load_run


def data_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    data = {key: getattr(args, key) for key in ("name", "root") if getattr(args, key) is not None}
    if data:
        data["eval_all"] = True
    return {"data": data}


def _export(args: argparse.Namespace) -> int:
    from spikestack.deploy import to_nir, write_nir

    run = load_run(args.run_dir, overrides=data_overrides(args))
    sample = run.inputs(1)[0][:, :1]
    graph = to_nir(run.network.cpu(), sample.cpu(), dt=args.dt)
    write_nir(args.nir, graph)
    kinds = ", ".join(type(node).__name__ for node in graph.nodes.values())
    print(f"wrote {args.nir}: {len(graph.nodes)} NIR nodes ({kinds}), dt={args.dt} s")
    return 0


def _energy(args: argparse.Namespace) -> int:
    from spikestack.deploy import estimate_energy

    run = load_run(args.run_dir, overrides=data_overrides(args))
    report = estimate_energy(
        run.network,
        run.inputs(args.batches),
        steps_per_sample=run.data.T,
        e_mac=args.e_mac,
        e_ac=args.e_ac,
    )
    print(f"{run.checkpoint.name} on {report.samples} samples of {run.config.data.name}:")
    print(report.table())
    return 0


def _map(args: argparse.Namespace) -> int:
    from spikestack.deploy import estimate_energy
    from spikestack.deploy.mapping import (
        Chip,
        evaluate,
        partition,
        place_annealing,
        place_naive,
        write_placement,
    )

    chip = Chip.from_toml(args.chip)
    run = load_run(args.run_dir, overrides=data_overrides(args))
    report = estimate_energy(run.network, run.inputs(args.batches), steps_per_sample=run.data.T)
    mapping = partition(report, chip)
    placement = place_naive(mapping, chip)
    naive = evaluate(mapping, placement, chip)
    if args.placer == "annealing":
        placement = place_annealing(mapping, chip, steps=args.steps or 4000, seed=args.seed)
    elif args.placer == "rl":
        from spikestack.deploy.placement_rl import place_rl

        placement = place_rl(mapping, chip, episodes=args.steps or 2000, seed=args.seed)
    result = evaluate(mapping, placement, chip)
    out = args.out or Path(args.run_dir) / "mapping"
    json_path, png = write_placement(out, mapping, placement, chip, result)
    print(f"{len(mapping.cores)} logical cores on a {chip.rows}x{chip.cols} mesh ({args.placer})")
    for key in ("traffic_hops", "max_link_load", "mean_link_load", "latency_s", "energy_j"):
        line = f"  {key:15} {result[key]:.4g}"
        if args.placer != "naive":
            line += f"   (naive {naive[key]:.4g})"
        print(line)
    print(f"wrote {json_path} and {png}")
    return 0


def register(subparsers: Any) -> None:
    export = subparsers.add_parser("export", help="write a run's network as a NIR graph")
    export.add_argument("run_dir", type=Path)
    export.add_argument("--nir", type=Path, required=True, help="the .nir file to write")
    export.add_argument(
        "--dt", type=positive_float, default=1e-4, help="seconds per step (default 1e-4)"
    )
    export.add_argument("--data", dest="name", default=None, help="data for the sample input")
    export.add_argument("--root", default=None)
    export.set_defaults(func=_export)

    energy = subparsers.add_parser(
        "energy", help="synaptic operations and energy of a run's network, measured on data"
    )
    energy.add_argument("run_dir", type=Path)
    energy.add_argument("--data", dest="name", default=None, help="another data set")
    energy.add_argument("--root", default=None)
    energy.add_argument(
        "--batches", type=positive_int, default=None, help="at most this many batches"
    )
    energy.add_argument(
        "--e-mac", dest="e_mac", type=non_negative_float, default=4.6e-12, help="J per MAC"
    )
    energy.add_argument(
        "--e-ac", dest="e_ac", type=non_negative_float, default=0.9e-12, help="J per AC"
    )
    energy.set_defaults(func=_energy)

    mapper = subparsers.add_parser(
        "map", help="partition and place a run's network on a many-core chip (JSON + heat map)"
    )
    mapper.add_argument("run_dir", type=Path)
    mapper.add_argument("--chip", type=Path, required=True, help="TOML with a [chip] table")
    mapper.add_argument("--placer", choices=("naive", "annealing", "rl"), default="annealing")
    mapper.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="annealing steps (4000) or rl episodes (2000)",
    )
    mapper.add_argument("--seed", type=int, default=0)
    mapper.add_argument("--out", type=Path, default=None, help="default RUN_DIR/mapping")
    mapper.add_argument("--data", dest="name", default=None, help="data to measure rates on")
    mapper.add_argument("--root", default=None)
    mapper.add_argument(
        "--batches", type=positive_int, default=2, help="batches to measure rates on"
    )
    mapper.set_defaults(func=_map)
