"""Many-core mapping: partition, placers and the cost model against hand counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spikestack.deploy import estimate_energy
from spikestack.deploy.mapping import (
    Chip,
    LogicalCore,
    Mapping,
    evaluate,
    link_loads,
    partition,
    place_annealing,
    place_naive,
    placement_cost,
    traffic_hops,
    write_placement,
)
from spikestack.deploy.placement_rl import discretise, mesh_adjacency, place_rl
from spikestack.models import create_model


def core(i: int) -> LogicalCore:
    return LogicalCore(layer=i, part=0, name=str(i), weights=10, neurons=10, ops=5.0,
                       dense_ops=10.0, in_rate=0.5)  # fmt: skip


def test_cost_model_of_a_hand_placed_two_by_two() -> None:
    traffic = np.zeros((4, 4))
    traffic[0, 1], traffic[0, 3], traffic[2, 1] = 10, 5, 2
    mapping = Mapping([core(i) for i in range(4)], traffic)
    placement = [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert traffic_hops(mapping, placement) == 10 * 1 + 5 * 2 + 2 * 2
    loads = link_loads(mapping, placement)
    # XY routing: columns first, then rows
    assert loads == {
        ((0, 0), (0, 1)): 15.0,  # 0->1 and the first hop of 0->3
        ((0, 1), (1, 1)): 5.0,  # 0->3 second hop
        ((1, 0), (1, 1)): 2.0,  # 2->1 first hop
        ((1, 1), (0, 1)): 2.0,  # 2->1 second hop
    }
    chip = Chip(rows=2, cols=2, hop_energy_j=1.0, op_energy_j=1.0)
    result = evaluate(mapping, placement, chip)
    assert result["traffic_hops"] == 24 and result["max_link_load"] == 15
    assert result["energy_j"] == 4 * 5.0 + 24 * 1.0


def chain_on_three_by_three() -> tuple[Mapping, Chip]:
    # a chain of 8 layers, each sending a lot to the next, on a 3x3 mesh: row by row
    # puts consecutive layers at the row ends far apart
    n = 8
    traffic = np.zeros((n, n))
    for i in range(n - 1):
        traffic[i, i + 1] = 100.0
    traffic[0, 7] = 50.0
    return Mapping([core(i) for i in range(n)], traffic), Chip(rows=3, cols=3)


def test_annealing_beats_the_naive_placement() -> None:
    mapping, chip = chain_on_three_by_three()
    naive = place_naive(mapping, chip)
    better = place_annealing(mapping, chip, steps=3000, seed=0)
    assert len(set(better)) == len(mapping.cores)
    cost = lambda p: traffic_hops(mapping, p) + max(link_loads(mapping, p).values())  # noqa: E731
    assert cost(naive) == placement_cost(mapping, naive) == 1400
    assert cost(better) < cost(naive)


def test_the_reinforcement_learning_placer_beats_the_naive_placement() -> None:
    mapping, chip = chain_on_three_by_three()
    naive = place_naive(mapping, chip)
    threads = torch.get_num_threads()
    learned = place_rl(mapping, chip, episodes=1000, seed=0)
    assert torch.get_num_threads() == threads  # restored
    assert len(set(learned)) == len(mapping.cores)
    assert all(0 <= r < 3 and 0 <= c < 3 for r, c in learned)
    assert placement_cost(mapping, learned) < placement_cost(mapping, naive)
    assert place_rl(mapping, chip, episodes=1000, seed=0) == learned  # seeded
    # actions of zero keep a placement; the mesh's normalised adjacency is symmetric
    assert discretise(torch.zeros(9), naive, chip, reach=0.5) == naive
    adj = mesh_adjacency(3, 3)
    assert torch.allclose(adj, adj.T) and adj[0, 4] == 0 and adj[0, 1] > 0


def test_partition_of_a_measured_model_and_the_files(tmp_path) -> None:
    torch.manual_seed(0)
    model = create_model("digits_csnn", channels=4, T=3)
    report = estimate_energy(model, [4 * torch.rand(3, 4, 1, 8, 8)])
    chip = Chip(rows=5, cols=5, core_memory_bytes=100, core_neurons=200)
    mapping = partition(report, chip)
    first = [c for c in mapping.cores if c.layer == 0]
    assert len(first) == max(-(-36 // 100), -(-4 * 64 // 200))  # 36 weights, 256 neurons -> 2
    assert all(c.weights * chip.weight_bytes <= chip.core_memory_bytes for c in mapping.cores)
    entering = report.layers[1].rate * report.layers[1].fan_in
    sent = mapping.traffic[[c_i for c_i, c in enumerate(mapping.cores) if c.layer == 0]].sum()
    assert sent == pytest.approx(entering * len([c for c in mapping.cores if c.layer == 1]))
    placement = place_naive(mapping, chip)
    result = evaluate(mapping, placement, chip)
    assert result["dram_bytes_sparse"] <= result["dram_bytes_dense"]
    json_path, png = write_placement(tmp_path, mapping, placement, chip, result)
    doc = json.loads(json_path.read_text())
    assert len(doc["cores"]) == len(mapping.cores) and png.read_bytes()[:4] == b"\x89PNG"


def test_chip_descriptions_and_bad_fits(tmp_path) -> None:
    path = tmp_path / "chip.toml"
    path.write_text("[chip]\nrows = 2\ncols = 3\ncore_neurons = 64\n")
    assert Chip.from_toml(path) == Chip(rows=2, cols=3, core_neurons=64)
    path.write_text("[chip]\nrows = 2\ncolumns = 3\n")
    with pytest.raises(ValueError, match=r"unknown chip field\(s\) \['columns'\]"):
        Chip.from_toml(path)
    with pytest.raises(FileNotFoundError, match="no chip description"):
        Chip.from_toml(tmp_path / "none.toml")
    with pytest.raises(ValueError, match="rows"):
        Chip(rows=0, cols=2)
    mapping = Mapping([core(i) for i in range(5)], np.zeros((5, 5)))
    with pytest.raises(ValueError, match="needs 5 cores; the chip has 2x2 = 4"):
        place_naive(mapping, Chip(rows=2, cols=2))
