"""pipeD: pretraining the ANN twin on static images made events by ODG (digits_odg), then
fine-tuning the SNN on event data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikestack.cli import main
from spikestack.data.io import write_events
from spikestack.data.odg import DEFAULT_TRAJECTORY, ODG
from spikestack.train import TrainConfig
from spikestack.train.recipes import build_data
from spikestack.train.recipes_events import odg_frames
from tests._data import random_events


def test_digits_odg_frames_are_odg_events_by_hand() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((8, 8))
    frames = odg_frames(image[None], 20, 8)
    reach = int(np.abs(np.cumsum(np.array(DEFAULT_TRAJECTORY), axis=0)).max())
    signed = ODG(resize=20 + 2 * reach, crop=20).signed_frames(image)
    assert frames.shape == (1, 8, 2, 20, 20)
    assert np.array_equal(frames[0, :, 0], signed > 0) and np.array_equal(
        frames[0, :, 1], signed < 0
    )
    halved = odg_frames(image[None], 20, 4)  # two trajectory steps per frame
    assert np.array_equal(halved[0, 1], frames[0, 2] + frames[0, 3])
    config = TrainConfig.from_dict(
        {"data": {"name": "digits_odg", "max_samples": 50, "sensor_size": [20, 20, 2]}}
    )
    bundle = build_data(config)
    x, y = bundle.train[0]
    assert tuple(x.shape) == (8, 2, 20, 20) and x.dtype.is_floating_point and x.sum() > 0
    assert bundle.default_model == "event_csnn" and bundle.num_classes == 10
    with pytest.raises(ValueError, match="square two-polarity"):
        build_data(
            TrainConfig.from_dict({"data": {"name": "digits_odg", "sensor_size": [20, 10, 2]}})
        )


def test_pretrain_on_digits_odg_then_train_on_an_event_folder(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "events"
    for label in range(10):
        (root / str(label)).mkdir(parents=True)
        for i in range(3):
            events = random_events(400, width=34, height=34, seed=label * 10 + i)
            write_events(root / str(label) / f"{i}.npz", events, sensor_size=(34, 34, 2))
    run = tmp_path / "run"
    args = ["train", "--data", "folder", "--root", str(root), "--pretrain-ann", "1",
            "--pretrain-data", "digits_odg", "--max-samples", "60", "--epochs", "1",
            "--frames", "4", "--no-progress", "--out", str(run)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "training event_csnn (relu) on digits_odg" in out
    assert "initialised from" in out and "copied 20 tensors" in out
    ann = json.loads((run / "ann" / "config.json").read_text())
    assert ann["data"]["name"] == "digits_odg" and ann["data"]["sensor_size"] == [34, 34, 2]
    assert ann["model"]["name"] == "event_csnn"
    assert main(["train", "--pretrain-data", "digits_odg", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.slow
def test_pipe_d_beats_scratch_on_nmnist_after_three_epochs(
    tmp_path, monkeypatch, sample_folder
) -> None:
    from spikestack.train.run import run_training

    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path / "cache"))
    root = sample_folder("nmnist_small")
    results = {}
    for name, model in (
        ("scratch", {}),
        ("pipeD", {"pretrain_ann": 4, "pretrain_data": "digits_odg"}),
    ):
        config = TrainConfig.from_dict(
            {
                "data": {"name": "folder", "root": str(root)},
                "model": model,
                "run": {"epochs": 3, "progress": False, "out": str(tmp_path / name)},
            }  # fmt: skip
        )
        results[name] = run_training(config, log=lambda *a: None)["test_accuracy"]
    print(
        f"N-MNIST samples, 3 epochs: scratch {results['scratch']:.4f}, pipeD {results['pipeD']:.4f}"
    )
    assert results["pipeD"] > results["scratch"]
