"""spikestack export / energy on a trained run folder."""

from __future__ import annotations

import pytest
import torch

from spikestack.cli import main
from spikestack.deploy import from_nir
from spikestack.train.run import load_run

pytest.importorskip("nir")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "mlp"
    args = ["train", "--model", "mlp_snn", "--model-kwargs", '{"hidden": 16}', "--epochs", "1"]
    assert main([*args, "--max-samples", "100", "--no-progress", "--out", str(out)]) == 0
    return out


def test_export_writes_a_graph_that_runs_like_the_run(run_dir, tmp_path, capsys) -> None:
    path = tmp_path / "net.nir"
    assert main(["export", str(run_dir), "--nir", str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    run = load_run(run_dir)
    x, _ = next(iter(run.eval_loader()))
    inputs = run.engine.input_transform(x, None)
    imported = from_nir(path).eval()
    with torch.no_grad():  # the run's model gives per-step outputs [T, B, classes], as NIR's
        expected = run.engine.model.eval()(inputs)
        assert expected.dim() == 3 and torch.equal(imported(inputs), expected)


def test_energy_prints_a_table_per_layer(run_dir, capsys) -> None:
    assert main(["energy", str(run_dir), "--batches", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:3] == ["layer", "type", "input"]
    rows = [line.split() for line in out[2:-1]]
    assert [r[1] for r in rows] == ["Linear", "Linear", "Linear"]
    assert rows[0][2] == "analog" and rows[1][2] == "spikes"
    assert out[-1].startswith("total per sample (")


def test_map_places_the_run_on_a_chip(run_dir, tmp_path, capsys) -> None:
    chip = tmp_path / "chip.toml"
    chip.write_text("[chip]\nrows = 4\ncols = 4\ncore_memory_bytes = 4096\ncore_neurons = 64\n")
    out = tmp_path / "mapped"
    args = ["map", str(run_dir), "--chip", str(chip), "--out", str(out), "--steps", "300"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "logical cores on a 4x4 mesh (annealing)" in lines[0]

    def row(key: str) -> tuple[float, float]:
        parts = next(line for line in lines if key in line).split()
        return float(parts[1]), float(parts[3].rstrip(")"))

    (hops, naive_hops), (load, naive_load) = row("traffic_hops"), row("max_link_load")
    assert hops + load <= naive_hops + naive_load + 1e-9  # annealing's cost: never worse
    assert (out / "placement.json").is_file() and (out / "link_loads.png").is_file()
    assert main([*args, "--placer", "rl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "(rl)" in lines[0]
    (hops, naive_hops), (load, naive_load) = row("traffic_hops"), row("max_link_load")
    assert hops + load <= naive_hops + naive_load + 1e-9  # the best seen: never worse
