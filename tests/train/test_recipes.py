"""Training-data recipes: declarations, what the run reads from them, and max_samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spikestack.cli import main
from spikestack.data import EVENT_DTYPE_1D, make_events, write_events
from spikestack.data.splits import subsample
from spikestack.train import RECIPES, TrainConfig, build_data, list_recipes
from spikestack.train.recipes import Recipe, register_recipe, time_major


def config(**data: object) -> TrainConfig:
    return TrainConfig.from_dict({"data": data})


def test_every_recipe_declares_what_the_run_needs() -> None:
    names = list_recipes()
    assert {"digits", "mnist", "fashion_mnist", "cifar10", "folder", "nmnist", "shd"} <= set(names)
    for name in names:
        recipe = RECIPES.get(name)
        assert recipe.layout in ("static", "sequence") and recipe.T >= 1
        assert recipe.needs_root == (name not in ("digits", "digits_odg"))  # embedded data
        if recipe.layout == "static":
            assert recipe.input_shape is not None and len(recipe.input_shape) == 3
    assert RECIPES.get("shd").default_model == "mlp_snn"
    assert RECIPES.get("nmnist").input_shape == (2, 34, 34)


def test_digits_bundle_follows_its_recipe() -> None:
    bundle = build_data(config())
    assert (bundle.num_classes, bundle.input_shape, bundle.T) == (10, (1, 8, 8), 4)
    assert bundle.layout == "static" and bundle.default_model == "digits_csnn"
    x, _ = bundle.train[0]
    encoded = bundle.input_transform(x.unsqueeze(0), None)
    assert encoded.shape == (4, 1, 1, 8, 8)  # static samples are encoded over T steps
    assert build_data(config(T=7)).input_transform(x.unsqueeze(0), None).shape[0] == 7
    sizes = bundle.info
    assert sizes["train"] + sizes["val"] + sizes["test"] == 1797


def test_auto_loss_batch_size_and_epochs_resolve_to_the_recipes() -> None:
    """``--loss auto`` (the default), an unset batch size and epochs become the recipe's, written
    back into the config (the run's config.json records them resolved); given ones stay."""
    digits = config()
    assert digits.optim.loss == "auto" and digits.data.batch_size is None
    assert digits.run.epochs is None
    build_data(digits)
    assert (digits.optim.loss, digits.data.batch_size, digits.run.epochs) == ("ce", 64, 12)
    assert RECIPES.get("folder").loss == RECIPES.get("nmnist").loss == "tet"
    assert RECIPES.get("dvsgesture").batch_size == 32 and RECIPES.get("shd").loss == "ce"
    folder = RECIPES.get("folder")
    assert (folder.epochs, folder.optimize) == (20, True)
    assert not RECIPES.get("digits").optimize
    given = TrainConfig.from_dict(
        {"data": {"batch_size": 16}, "optim": {"loss": "mse"}, "run": {"epochs": 3}}
    )
    build_data(given)
    assert (given.optim.loss, given.data.batch_size, given.run.epochs) == ("mse", 16, 3)


def test_max_samples_means_at_most_n_in_all_per_class() -> None:
    bundle = build_data(config(max_samples=200))
    info = bundle.info
    assert info["train"] + info["val"] + info["test"] == 200
    labels = [int(y) for _, y in bundle.train] + [int(y) for _, y in bundle.test]
    counts = np.bincount(labels, minlength=10)
    assert counts.min() >= 10  # drawn per class, not the first 200 files
    picked = subsample(np.repeat(np.arange(4), [50, 30, 15, 5]), 20, seed=0)
    assert len(picked) == 20 and set(np.repeat(np.arange(4), [50, 30, 15, 5])[picked]) == {
        0,
        1,
        2,
        3,
    }


def two_class_folder(root, per_class: int = 12) -> None:
    """Class 0 fires on the left half of a 16x16 sensor, class 1 on the right half."""
    rng = np.random.default_rng(0)
    for label in (0, 1):
        folder = root / str(label)
        folder.mkdir(parents=True)
        for i in range(per_class):
            n = 300
            x = rng.integers(0, 8, n) + 8 * label
            events = make_events(
                t=np.sort(rng.integers(0, 100_000, n)),
                x=x,
                y=rng.integers(0, 16, n),
                p=rng.integers(0, 2, n),
            )
            write_events(folder / f"{i}.npz", events, sensor_size=(16, 16, 2))


def test_folder_recipe_finds_classes_sensor_and_model_in_the_files(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path / "cache"))
    two_class_folder(tmp_path / "ev")
    bundle = build_data(config(name="folder", root=str(tmp_path / "ev"), T=5))
    assert bundle.num_classes == 2 and bundle.input_shape == (2, 16, 16)
    assert bundle.layout == "sequence" and bundle.input_transform is time_major
    assert bundle.default_model == "event_csnn"
    resolved = config(name="folder", root=str(tmp_path / "ev"), T=5)
    build_data(resolved)
    assert (resolved.optim.loss, resolved.data.batch_size) == ("tet", 32)
    frames, _ = bundle.train[0]
    assert tuple(frames.shape) == (5, 2, 16, 16)
    with pytest.raises(ValueError, match="needs --root"):
        build_data(config(name="folder"))
    with pytest.raises(ValueError, match="unknown data set 'nmist'.*did you mean nmnist"):
        build_data(config(name="nmist"))


def test_training_on_written_event_files(tmp_path, capsys, monkeypatch) -> None:
    """A fresh clone trains on event files it writes itself (no outside data)."""
    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path / "cache"))
    two_class_folder(tmp_path / "ev")
    args = ["train", "--data", "folder", "--root", str(tmp_path / "ev"), "--frames", "4"]
    args += ["--epochs", "8", "--no-progress", "--out", str(tmp_path / "run")]
    args += ["--model-kwargs", '{"channels": 4}', "--val-fraction", "0", "--batch-size", "4"]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("optimize (training, cpu)")  # on by default for event folders
    training = next(line for line in lines if line.startswith("training "))
    assert "'sensor_size': [16, 16, 2]" in training and "T=4" in training
    assert float(lines[-1].split(": ")[1]) >= 0.75
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["run"]
    assert recorded["optimize"] is True and recorded["epochs"] == 8


def test_a_recipe_that_misdeclares_its_data_is_caught() -> None:
    from spikestack.train.recipes_static import _digits

    recipe = Recipe(
        name="digits_misdeclared",
        summary="digits with a wrong class count",
        layout="static",
        T=2,
        default_model="digits_csnn",
        num_classes=12,
        input_shape=(1, 8, 8),
        needs_root=False,
        build=_digits,
    )
    register_recipe(recipe)
    try:
        with pytest.raises(ValueError, match="num_classes 10, but the recipe declares 12"):
            build_data(config(name="digits_misdeclared"))
    finally:
        RECIPES._entries.pop("digits_misdeclared")
    with pytest.raises(ValueError, match="layout"):
        Recipe("x", "", "frames", 1, None, None, None, False, _digits)  # type: ignore[arg-type]
    assert torch.is_tensor(build_data(config()).train[0][0])


def test_one_dimensional_event_files_train_the_mlp(tmp_path, capsys, monkeypatch) -> None:
    """Events with a single row (audio-like, sensor W x 1 x 1) take the flattening mlp_snn."""
    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(1)
    for label in (0, 1):
        folder = tmp_path / "ev1d" / str(label)
        folder.mkdir(parents=True)
        for i in range(10):
            events = np.zeros(200, dtype=EVENT_DTYPE_1D)
            events["t"] = np.sort(rng.integers(0, 50_000, 200))
            events["x"] = rng.integers(0, 16, 200) + 16 * label
            events["p"] = 0
            write_events(folder / f"{i}.npz", events, sensor_size=(32, 1, 1))
    bundle = build_data(config(name="folder", root=str(tmp_path / "ev1d"), T=3))
    assert bundle.default_model == "mlp_snn" and bundle.input_shape == (1, 1, 32)
    args = ["train", "--data", "folder", "--root", str(tmp_path / "ev1d"), "--frames", "3"]
    args += ["--epochs", "6", "--no-progress", "--out", str(tmp_path / "run")]
    args += [
        "--model-kwargs",
        '{"hidden": 32}',
        "--val-fraction",
        "0",
        "--batch-size",
        "4",
        "--lr",
        "0.01",
    ]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("training mlp_snn (lif) on folder") for line in lines)
    assert float(lines[-1].split(": ")[1]) >= 0.75


def test_a_static_model_is_fed_the_encoded_steps(tmp_path, capsys) -> None:
    """A model whose default input is static (one image, repeated inside) is built by the run
    to take the encoder's [T, B, ...] sequence instead, with T from the recipe."""
    args = ["train", "--model", "sew_resnet18", "--model-kwargs", '{"width": 4}', "--T", "2"]
    args += ["--max-samples", "40", "--epochs", "1", "--batch-size", "10", "--no-progress"]
    args += ["--out", str(tmp_path / "run")]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("training sew_resnet18 (lif) on digits: ") and "T=2" in lines[0]
    assert "'test': 10" in lines[0]
    accuracy = float(lines[-1].split(": ")[1])
    assert lines[-1].startswith("test accuracy: ") and round(accuracy * 10, 6) % 1 == 0


def test_named_recipes_of_the_newer_data_sets(tmp_path, monkeypatch) -> None:
    """pokerdvs, dvslip, ntidigits and hardvs are recipes; POKER-DVS builds from its folders
    (an (N, 4) t, x, y, p array per recording) into 35 x 35 frames of four classes."""
    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path / "cache"))
    shapes = {
        name: RECIPES.get(name).input_shape
        for name in ("pokerdvs", "dvslip", "ntidigits", "hardvs")
    }
    assert shapes == {"pokerdvs": (2, 35, 35), "dvslip": (2, 128, 128),
                      "ntidigits": (1, 1, 64), "hardvs": (2, 260, 346)}  # fmt: skip
    rng = np.random.default_rng(1)
    for split, count in (("train", 6), ("test", 2)):
        for suit in ("cl", "di", "he", "sp"):
            folder = tmp_path / f"pips_{split}" / suit
            folder.mkdir(parents=True)
            for k in range(count):
                n = 50
                table = np.stack([np.sort(rng.integers(0, 10_000, n)), rng.integers(0, 35, n),
                                  rng.integers(0, 35, n), rng.integers(0, 2, n)], axis=1)  # fmt: skip
                np.save(folder / f"{k}.npy", table)
    bundle = build_data(config(name="pokerdvs", root=str(tmp_path)))
    assert bundle.num_classes == 4 and bundle.input_shape == (2, 35, 35)
    frames, label = bundle.test[0]
    assert frames.shape[1:] == (2, 35, 35) and int(label) in range(4)
    assert bundle.info["test"] == 8
