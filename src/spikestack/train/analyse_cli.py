"""``spikestack analyse RUN_DIR``: a report folder on what a trained run's neurons do.

On a few batches of the run's test data (or ``--data``/``--root``): per-layer firing
rates (a bar chart), a spike raster and membrane traces of one sample for each layer,
ISI coefficient of variation, Fano factor and synchrony per layer, all in
``RUN_DIR/analysis/`` (or ``--out``) with an ``index.html`` that shows them on one page
and a ``stats.json`` with the numbers. Lives on train's side because it reads run
folders; train/cli.py registers it.
"""

from __future__ import annotations

import argparse
import html
import json
import math
from pathlib import Path
from typing import Any

import torch

from spikestack.argtypes import non_negative_int, positive_int
from spikestack.train.deploy_cli import data_overrides
from spikestack.train.run import load_run


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 4)


def _analyse(args: argparse.Namespace) -> int:
    from spikestack.analysis import Monitor, plot, stats
    from spikestack.atomic import atomic_write

    run = load_run(args.run_dir, overrides=data_overrides(args))
    network = run.network.eval()
    out = Path(args.out) if args.out else Path(args.run_dir) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    record = ("spikes", "input")
    with Monitor(network, record=record, max_bytes=args.max_mib * 2**20) as monitor:
        with torch.no_grad():
            for x in run.inputs(args.batches):
                network(x)
    rates = monitor.rates()
    if not rates:
        raise ValueError(f"{args.run_dir}: the network has no spiking layer to analyse")
    figures = {"rates.png": plot.layer_rates(rates)}
    table: dict[str, dict[str, Any]] = {}
    membrane_layers = 0
    modules = dict(network.named_modules())
    for name in monitor.records:
        if "spikes" not in monitor.records[name]:
            continue
        spikes = monitor.get(name)
        flat = spikes.reshape(spikes.shape[0], spikes.shape[1], -1).cpu()
        safe = name.replace(".", "_") or "layer"
        figures[f"raster_{safe}.png"] = plot.raster(flat, title=f"{name}: spikes, sample 0")
        cv = stats.isi_cv(flat)
        fano = stats.fano_factor(flat)
        try:
            sync = stats.synchrony(flat)
        except ValueError:
            sync = float("nan")
        table[name] = {
            "rate": round(rates.get(name, 0.0), 4),
            "isi_cv": _finite(float(torch.nanmean(cv))) if (~cv.isnan()).any() else None,
            "fano": _finite(float(torch.nanmean(fano))) if (~fano.isnan()).any() else None,
            "synchrony": _finite(sync),
        }
        module = modules[name]
        if membrane_layers < args.membranes and "input" in monitor.records[name]:
            from spikestack.analysis import membrane_trace

            try:
                v = membrane_trace(module, monitor.get(name, "input")[:, :1])
            except ValueError:
                continue
            threshold = getattr(module, "v_threshold", None)
            figures[f"membrane_{safe}.png"] = plot.membrane(
                v.reshape(v.shape[0], 1, -1), threshold=threshold, title=f"{name}: membrane"
            )
            membrane_layers += 1
    for filename, fig in figures.items():
        atomic_write(out / filename, lambda f, fig=fig: fig.savefig(f, format="png", dpi=80))
    import matplotlib.pyplot as plt

    plt.close("all")
    doc = {"run": str(args.run_dir), "checkpoint": run.checkpoint.name, "layers": table}
    atomic_write(out / "stats.json", lambda f: f.write(json.dumps(doc, indent=2).encode()))
    atomic_write(out / "index.html", lambda f: f.write(_page(doc, figures).encode()))
    print(f"wrote {out / 'index.html'} ({len(figures)} figures, {len(table)} layers)")
    for name, row in table.items():
        print(f"  {name:24} rate {row['rate']:.4f}  ISI CV {row['isi_cv']}  Fano {row['fano']}")
    return 0


def _page(doc: dict[str, Any], figures: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{row[key]}</td>" for key in ("rate", "isi_cv", "fano", "synchrony"))
        + "</tr>"
        for name, row in doc["layers"].items()
    )
    images = "".join(
        f'<figure><img src="{name}" alt="{name}"><figcaption>{name}</figcaption></figure>'
        for name in figures
    )
    return (
        "<!doctype html><meta charset='utf-8'><title>spikestack analyse</title>"
        f"<h1>{html.escape(doc['run'])}</h1><p>checkpoint {html.escape(doc['checkpoint'])}</p>"
        "<table border=1 cellpadding=4><tr><th>layer</th><th>rate</th><th>ISI CV</th>"
        f"<th>Fano</th><th>synchrony</th></tr>{rows}</table>{images}"
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "analyse", help="a report (index.html) on a run's layers: rates, rasters, statistics"
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data", dest="name", default=None, help="another data set")
    parser.add_argument("--root", default=None)
    parser.add_argument(
        "--batches", type=positive_int, default=2, help="test batches to run (default 2)"
    )
    parser.add_argument(
        "--membranes", type=non_negative_int, default=3, help="layers with membrane plots"
    )
    parser.add_argument("--max-mib", dest="max_mib", type=positive_int, default=256)
    parser.add_argument("--out", type=Path, default=None, help="default RUN_DIR/analysis")
    parser.set_defaults(func=_analyse)
