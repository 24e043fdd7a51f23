import json
import re

import pytest
import torch

from spikestack.cli import main
from spikestack.train.checkpoint import load_latest
from spikestack.train.config import TrainConfig
from spikestack.train.run import resume_training, run_training


def small_config(out, *, data=(), model=(), optim=(), run=()):
    """A quick digits run; each keyword updates one section of the configuration."""
    return TrainConfig.from_dict(
        {
            "data": {"max_samples": 240, "batch_size": 32, "val_fraction": 0.1, **dict(data)},
            "model": {"model_kwargs": {"channels": 8}, **dict(model)},
            "optim": dict(optim),
            "run": {
                "out": str(out),
                "epochs": 2,
                "progress": False,
                "deterministic": True,
                **dict(run),
            },
        }
    )


def test_resume_continues_to_the_same_weights(tmp_path):
    straight = run_training(small_config(tmp_path / "a"), log=lambda *_: None)
    run_training(
        small_config(tmp_path / "b", run={"stop_after": 1}), log=lambda *_: None
    )  # interrupted
    resumed = resume_training(tmp_path / "b", log=lambda *_: None)
    a, _ = load_latest(tmp_path / "a")
    b, _ = load_latest(tmp_path / "b")
    assert a["epoch"] == b["epoch"] == 2
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], rtol=0, atol=1e-6)
    assert straight["test_accuracy"] == pytest.approx(resumed["test_accuracy"])
    rows = [
        json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["epoch"] for r in rows] == [1, 2]


def test_amp_bfloat16_on_cpu_trains(tmp_path):
    result = run_training(
        small_config(tmp_path / "amp", run={"epochs": 1, "amp": True}), log=lambda *_: None
    )
    assert 0.0 <= result["test_accuracy"] <= 1.0
    rows = (tmp_path / "amp" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(rows[0])["train_loss"] < 5


def test_refuses_to_overwrite_a_run(tmp_path):
    run_training(small_config(tmp_path / "r", run={"epochs": 1}), log=lambda *_: None)
    with pytest.raises(FileExistsError, match="resume"):
        run_training(small_config(tmp_path / "r", run={"epochs": 1}), log=lambda *_: None)


def test_cli_train_eval_plot(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--epochs",
            "1",
            "--max-samples",
            "200",
            "--no-progress",
            "--out",
            str(out),
            "--model-kwargs",
            '{"channels": 8}',
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("test accuracy: ") and len(lines[-1].split(": ")[1]) == 6
    assert {"config.json", "data.json", "metrics.jsonl", "learning_curves.png", "final.json"} <= {
        p.name for p in out.iterdir()
    }
    state, _ = load_latest(out)
    assert state["epoch"] == 1 and "model" in state
    assert main(["eval", str(out)]) == 0
    dense = capsys.readouterr().out.strip().splitlines()[-1]
    assert dense.startswith("test accuracy: ")
    assert main(["eval", str(out), "--sparse", "sparse"]) == 0  # event-driven: same accuracy
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1] == dense and "event-driven inference (sparse):" in printed
    rows = [line.split() for line in printed if line.strip().startswith("body.")]
    assert [r[1] for r in rows] == ["Conv2d", "Conv2d", "Linear"]
    assert [r[4] for r in rows] == ["values", "spikes", "spikes"]  # the image, then spikes
    assert main(["plot", str(out), "--out", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_cli_reads_toml_and_rejects_unknown_options(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        "[data]\nmax_samples = 150\n[model]\nmodel_kwargs = {channels = 4}\n"
        "[run]\nepochs = 1\nprogress = false\n"
    )
    out = tmp_path / "run"
    assert main(["train", "--config", str(cfg), "--out", str(out), "--lr", "0.01"]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["run"]["epochs"] == 1 and saved["optim"]["lr"] == 0.01
    assert saved["model"]["model_kwargs"] == {"channels": 4}
    assert saved["data"]["T"] is None  # the recipe's T (4 for digits) is used, not stored
    bad = tmp_path / "bad.toml"
    for text, match in [
        ("epoch = 3\n", r"unknown config key 'epoch'.*did you mean \[run\] 'epochs'"),
        ("epochs = 3\n", r"'epochs'.*belongs in the \[run\] table"),
        ("[run]\nepoch = 3\n", r"unknown option 'epoch' in \[run\].*did you mean 'epochs'"),
        ("[run]\nlr = 3\n", r"'lr' in \[run\].*belongs in \[optim\]"),
        ("[optimiser]\nlr = 3\n", r"unknown config section \[optimiser\].*did you mean 'optim'"),
    ]:
        bad.write_text(text)
        assert main(["train", "--config", str(bad)]) == 2
        assert re.search(match, capsys.readouterr().err)
    with pytest.raises(SystemExit):
        main(["train", "--sensor_size", "1", "2", "3"])
    assert "did you mean --sensor-size" in capsys.readouterr().err


@pytest.mark.slow
def test_default_training_reaches_95_percent(tmp_path, capsys):
    assert main(["train", "--no-progress", "--out", str(tmp_path / "default")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert float(last.split(": ")[1]) >= 0.95


@pytest.mark.parametrize("loss", ["tet", "mse", "tcl", "stcl"])
def test_every_loss_trains_end_to_end(tmp_path, loss):
    result = run_training(
        small_config(tmp_path / loss, optim={"loss": loss}, run={"epochs": 1}), log=lambda *_: None
    )
    assert 0.0 <= result["test_accuracy"] <= 1.0
    row = json.loads((tmp_path / loss / "metrics.jsonl").read_text().splitlines()[0])
    assert row["train_loss"] == row["train_loss"]  # finite, not NaN


def test_random_shift_moves_pixels_and_pads_with_zeros():
    from spikestack.train.augment import random_shift

    x = torch.arange(1.0, 10.0).view(1, 1, 3, 3)
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(40):
        y = random_shift(x, g)
        assert y.shape == x.shape
        # every non-zero value of the output comes from x at a shift of at most one pixel
        nz = y[y != 0]
        assert set(nz.tolist()) <= set(x.flatten().tolist())
        seen.add(tuple(y.flatten().tolist()))
    assert len(seen) > 3


def test_tensorboard_logging_when_installed(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is optional (pip install tensorboard)")
    run_training(
        small_config(tmp_path / "tb", run={"epochs": 1, "tensorboard": True}), log=lambda *_: None
    )
    assert any((tmp_path / "tb" / "tensorboard").iterdir())


def test_optimize_trains_like_the_plain_model_and_keeps_checkpoints_compatible(tmp_path):
    lines: list[str] = []
    plain = run_training(small_config(tmp_path / "plain", run={"epochs": 1}), log=lambda *_: None)
    fast = run_training(
        small_config(tmp_path / "fast", run={"epochs": 1, "optimize": True}), log=lines.append
    )
    report = next(line for line in lines if line.startswith("optimize (training, cpu)"))
    assert "float64 check" in report
    a, _ = load_latest(tmp_path / "plain")
    b, _ = load_latest(tmp_path / "fast")
    assert list(a["model"]) == list(b["model"])  # same names: checkpoints interchange
    # the same training up to float order and max-pool tie-breaking
    assert abs(plain["test_accuracy"] - fast["test_accuracy"]) <= 0.05
    resumed = resume_training(tmp_path / "fast", epochs=2, log=lambda *_: None)
    assert resumed["epochs"] == 2
    assert main(["eval", str(tmp_path / "fast")]) == 0
