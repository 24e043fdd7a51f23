"""``spikestack convert``: an ANN twin's run converted, tabulated against T, written as a run
folder that ``spikestack eval`` reads; clear errors for runs it cannot convert."""

from __future__ import annotations

import json

import pytest
import torch

from spikestack.cli import main
from spikestack.convert import ann_to_snn, static_network
from spikestack.models import create_model


@pytest.fixture(scope="module")
def ann_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("convert") / "ann"
    args = ["train", "--neuron", "relu", "--model-kwargs", '{"pool": "avg"}', "--epochs", "4",
            "--no-progress", "--out", str(run)]  # fmt: skip
    assert main(args) == 0
    return run


def test_convert_tabulates_and_writes_a_run_folder_eval_reads(ann_run, capsys) -> None:
    out = ann_run.parent / "snn"
    args = ["convert", str(ann_run), "--T", "16", "--steps", "4,16,64", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "agreement with the ANN" in printed
    record = json.loads((out / "conversion.json").read_text())
    rows = {row["T"]: row for row in record["table"]}
    assert set(rows) == {"ANN", 4, 16, 64}
    assert rows["ANN"]["accuracy"] > 0.9
    assert rows[64]["agreement"] >= 0.99  # the bar at T = 64
    assert rows[64]["agreement"] >= rows[4]["agreement"] - 0.01
    assert json.loads((out / "config.json").read_text())["data"]["T"] == 16
    assert main(["eval", str(out)]) == 0
    evaluated = capsys.readouterr().out
    accuracy = float(evaluated.strip().splitlines()[-1].split()[-1])
    assert accuracy == pytest.approx(rows[16]["accuracy"], abs=1e-4)  # printed to 4 places


def test_spiking_runs_and_max_pooling_are_refused(tmp_path, ann_run) -> None:
    snn_run = tmp_path / "snn"
    assert (
        main(
            [
                "train",
                "--epochs",
                "1",
                "--max-samples",
                "60",
                "--no-progress",
                "--out",
                str(snn_run),
            ]
        )
        == 0
    )
    assert main(["convert", str(snn_run)]) == 2  # a clear one-line error, exit status 2
    twin = create_model("digits_csnn", neuron="relu")  # max pooling by default
    with pytest.raises(ValueError, match="MaxPool"):
        ann_to_snn(static_network(twin), [torch.rand(4, 1, 8, 8)], T=8)
    with pytest.raises(ValueError, match="no sequential body"):
        static_network(create_model("sew_resnet18", neuron="relu", num_classes=10))
    assert main(["convert", str(ann_run), "--steps", "4,x"]) == 2
