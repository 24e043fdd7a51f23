"""Mapping a network onto a many-core chip: partition, placement and a cost model.

A chip (:class:`Chip`, read from TOML) is a 2-D mesh of cores, each with weight memory, a
neuron capacity and a compute rate, joined by links of a given bandwidth, a packet costing
``hop_energy_j`` and ``hop_latency_s`` per hop (dimension-order XY routing: along the
row first, then the column). The network is the chain of its synaptic layers as measured
on data by :func:`spikestack.deploy.estimate_energy` (weights, neurons, input firing rate).

1. :func:`partition` cuts each layer into logical cores so that each part's share of the
   weights and neurons fits one core;
2. a placer puts logical cores on physical ones: ``naive`` fills the mesh row by row in
   layer order; ``annealing`` improves a placement by simulated annealing over swaps
   (seeded), minimising traffic × hops plus the busiest link's load;
3. :func:`evaluate` reports total traffic × hops, maximum and average link load, per-core
   memory and compute use, an estimated latency and energy per time step, and, for
   training, the work of the forward, backward and weight-gradient passes per core and
   the DRAM traffic of the weights with and without skipping silent inputs.

Traffic model: every part of layer i sends its output spikes to every part of layer i+1
(multicast as separate packets, one packet per spike); per time step, the spikes entering
layer i+1 are its measured input rate × fan-in. The host's input to the first layer is not
counted. :mod:`spikestack.deploy.placement_rl` adds a reinforcement-learning placer.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spikestack.deploy.energy import EnergyReport
from spikestack.validation import check_int, check_positive


@dataclass(frozen=True)
class Chip:
    """A 2-D mesh of identical cores (see the module docstring)."""

    rows: int
    cols: int
    core_memory_bytes: int = 128 * 1024
    core_neurons: int = 4096
    core_ops_per_s: float = 1e9
    link_spikes_per_s: float = 1e9
    hop_energy_j: float = 1e-12
    hop_latency_s: float = 1e-8
    op_energy_j: float = 0.9e-12
    weight_bytes: int = 1

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "core_memory_bytes", "core_neurons", "weight_bytes"):
            check_int(name, getattr(self, name), minimum=1)
        for name in (
            "core_ops_per_s",
            "link_spikes_per_s",
            "hop_energy_j",
            "hop_latency_s",
            "op_energy_j",
        ):
            check_positive(name, getattr(self, name))

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Chip:
        """A chip from a TOML file with a ``[chip]`` table of these fields."""
        try:
            import tomllib
        except ModuleNotFoundError:  # Python < 3.11
            import tomli as tomllib  # type: ignore[no-redef]
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no chip description at {path}")
        try:
            table = tomllib.loads(path.read_text()).get("chip")
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: not valid TOML: {err}") from err
        if not isinstance(table, dict):
            raise ValueError(f"{path}: needs a [chip] table with rows and cols")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"{path}: unknown chip field(s) {unknown}; known: {sorted(known)}")
        return cls(**table)


@dataclass(frozen=True)
class LogicalCore:
    """One part of one layer."""

    layer: int
    part: int
    name: str
    weights: int
    neurons: int
    ops: float  # synaptic operations per time step (dense ops × input rate)
    dense_ops: float  # per time step, were every input a spike
    in_rate: float


@dataclass
class Mapping:
    """Logical cores, the traffic between them (spikes per step) and a placement."""

    cores: list[LogicalCore]
    traffic: np.ndarray  # [n, n] spikes per time step from core a to core b
    placement: list[tuple[int, int]] = field(default_factory=list)  # (row, col) per core


def partition(report: EnergyReport, chip: Chip) -> Mapping:
    """Cut each measured layer into as few logical cores as fit ``chip``'s cores."""
    cores: list[LogicalCore] = []
    parts_of: list[list[int]] = []
    for i, layer in enumerate(report.layers):
        if not layer.neurons:
            raise ValueError(f"{layer.name} was never run: measure the report on data first")
        k = max(
            math.ceil(layer.weights * chip.weight_bytes / chip.core_memory_bytes),
            math.ceil(layer.neurons / chip.core_neurons),
            1,
        )
        dense = layer.dense / max(report.samples, 1) / max(report.steps, 1)
        ids = []
        for p in range(k):
            ids.append(len(cores))
            cores.append(
                LogicalCore(
                    layer=i,
                    part=p,
                    name=f"{layer.name}[{p}]",
                    weights=math.ceil(layer.weights / k),
                    neurons=math.ceil(layer.neurons / k),
                    ops=dense * layer.rate / k,
                    dense_ops=dense / k,
                    in_rate=layer.rate,
                )  # fmt: skip
            )
        parts_of.append(ids)
    traffic = np.zeros((len(cores), len(cores)))
    for i in range(len(parts_of) - 1):
        nxt = report.layers[i + 1]
        spikes = nxt.rate * nxt.fan_in  # per step, into layer i + 1
        senders, receivers = parts_of[i], parts_of[i + 1]
        for a in senders:
            for b in receivers:
                traffic[a, b] += spikes / len(senders)
    return Mapping(cores, traffic)


def _check_fits(mapping: Mapping, chip: Chip) -> None:
    if len(mapping.cores) > chip.rows * chip.cols:
        raise ValueError(
            f"the network needs {len(mapping.cores)} cores; the chip has {chip.rows}x{chip.cols}"
            f" = {chip.rows * chip.cols}"
        )


def place_naive(mapping: Mapping, chip: Chip) -> list[tuple[int, int]]:
    """Logical cores in layer order, filling the mesh row by row."""
    _check_fits(mapping, chip)
    return [divmod(i, chip.cols) for i in range(len(mapping.cores))]


def _xy_links(
    a: tuple[int, int], b: tuple[int, int]
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The directed links of the XY route from a to b (columns first, then rows)."""
    links = []
    r, c = a
    while c != b[1]:
        step = 1 if b[1] > c else -1
        links.append(((r, c), (r, c + step)))
        c += step
    while r != b[0]:
        step = 1 if b[0] > r else -1
        links.append(((r, c), (r + step, c)))
        r += step
    return links


def link_loads(mapping: Mapping, placement: list[tuple[int, int]]) -> dict[tuple, float]:
    """Spikes per time step on every used directed link."""
    loads: dict[tuple, float] = {}
    for a, b in zip(*np.nonzero(mapping.traffic), strict=True):
        for link in _xy_links(placement[a], placement[b]):
            loads[link] = loads.get(link, 0.0) + float(mapping.traffic[a, b])
    return loads


def traffic_hops(mapping: Mapping, placement: list[tuple[int, int]]) -> float:
    """Σ traffic × Manhattan distance (spike-hops per time step)."""
    pos = np.array(placement)
    dist = np.abs(pos[:, None, :] - pos[None, :, :]).sum(-1)
    return float((mapping.traffic * dist).sum())


def placement_cost(mapping: Mapping, placement: list[tuple[int, int]]) -> float:
    """What the placers minimise: spike-hops plus the busiest link's load, per time step."""
    loads = link_loads(mapping, placement)
    return traffic_hops(mapping, placement) + (max(loads.values()) if loads else 0.0)


def place_annealing(
    mapping: Mapping, chip: Chip, *, steps: int = 4000, seed: int = 0, start: list | None = None
) -> list[tuple[int, int]]:
    """Simulated annealing from ``start`` (default: the naive placement): swap a logical
    core with another position (free or taken), accept worse costs with probability
    exp(-Δ / temperature), temperature falling geometrically; returns the best seen."""
    check_int("steps", steps, minimum=1)
    placement = list(start or place_naive(mapping, chip))
    rng = np.random.default_rng(seed)
    slots = [divmod(i, chip.cols) for i in range(chip.rows * chip.cols)]
    cost = placement_cost(mapping, placement)
    best, best_cost = list(placement), cost
    temperature = max(cost, 1.0) * 0.05
    decay = (1e-3) ** (1.0 / steps)
    for _ in range(steps):
        a = int(rng.integers(len(placement)))
        target = slots[int(rng.integers(len(slots)))]
        trial = list(placement)
        if target in trial:
            b = trial.index(target)
            trial[a], trial[b] = trial[b], trial[a]
        else:
            trial[a] = target
        new = placement_cost(mapping, trial)
        if new <= cost or rng.random() < math.exp(-(new - cost) / max(temperature, 1e-12)):
            placement, cost = trial, new
            if cost < best_cost:
                best, best_cost = list(placement), cost
        temperature *= decay
    return best


def evaluate(mapping: Mapping, placement: list[tuple[int, int]], chip: Chip) -> dict[str, Any]:
    """The cost model of a placement, per time step (see the module docstring)."""
    loads = link_loads(mapping, placement)
    hops = traffic_hops(mapping, placement)
    ops = np.array([c.ops for c in mapping.cores])
    memory = np.array([c.weights * chip.weight_bytes for c in mapping.cores])
    pos = np.array(placement)
    dist = np.abs(pos[:, None, :] - pos[None, :, :]).sum(-1)
    longest = int(dist[mapping.traffic > 0].max()) if (mapping.traffic > 0).any() else 0
    latency = (
        float(ops.max()) / chip.core_ops_per_s
        + (max(loads.values()) if loads else 0.0) / chip.link_spikes_per_s
        + longest * chip.hop_latency_s
    )
    fp = ops  # forward: one accumulate per input spike and synapse
    bp = np.array([c.dense_ops for c in mapping.cores])  # errors flow back densely
    wg = ops  # weight gradients only for synapses whose input spiked
    weight_bytes = memory.astype(float)
    rates = np.array([c.in_rate for c in mapping.cores])
    return {
        "cores_used": len(mapping.cores),
        "traffic_hops": hops,
        "max_link_load": max(loads.values()) if loads else 0.0,
        "mean_link_load": float(np.mean(list(loads.values()))) if loads else 0.0,
        "core_memory_use": (memory / chip.core_memory_bytes).tolist(),
        "core_compute_ops": ops.tolist(),
        "compute_balance": float(ops.max() / ops.mean()) if ops.mean() > 0 else 1.0,
        "latency_s": latency,
        "energy_j": float(ops.sum()) * chip.op_energy_j + hops * chip.hop_energy_j,
        "training_ops": {
            "forward": fp.tolist(),
            "backward": bp.tolist(),
            "weight_grad": wg.tolist(),
        },
        # weights read for forward and backward and read+written for the update, per step;
        # skipping silent inputs reads only the rows of inputs that spiked for FP and WG
        "dram_bytes_dense": float(weight_bytes.sum() * 4),
        "dram_bytes_sparse": float((weight_bytes * (rates + 1 + 2 * rates)).sum()),
    }


def write_placement(
    out_dir: str | os.PathLike[str], mapping: Mapping, placement: list, chip: Chip, result: dict
) -> tuple[Path, Path]:
    """``placement.json`` and ``link_loads.png`` (a heat map of each core's busiest
    outgoing link) in ``out_dir``, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikestack.atomic import atomic_write

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "chip": asdict(chip),
        "cores": [
            dict(asdict(c), position=list(p)) for c, p in zip(mapping.cores, placement, strict=True)
        ],
        "cost": {k: v for k, v in result.items() if not isinstance(v, (list, dict))},
    }
    json_path = atomic_write(
        out / "placement.json", lambda f: f.write(json.dumps(doc, indent=2).encode())
    )
    heat = np.zeros((chip.rows, chip.cols))
    for (src, _), load in link_loads(mapping, placement).items():
        heat[src] = max(heat[src], load)
    fig, ax = plt.subplots(figsize=(1 + 0.5 * chip.cols, 1 + 0.5 * chip.rows))
    image = ax.imshow(heat, cmap="magma")
    fig.colorbar(image, ax=ax, label="busiest outgoing link (spikes / step)")
    ax.set_title("link load")
    png = out / "link_loads.png"

    def save(f: Any) -> None:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")

    atomic_write(png, save)
    plt.close(fig)
    return json_path, png
