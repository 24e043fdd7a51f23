"""``spikestack analyse RUN_DIR``: the report folder of a trained run."""

from __future__ import annotations

import json

from spikestack.cli import main


def test_analyse_writes_a_report(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    args = ["train", "--epochs", "1", "--max-samples", "80", "--no-progress", "--out", str(run)]
    assert main(args) == 0
    out = tmp_path / "report"
    assert main(["analyse", str(run), "--batches", "1", "--out", str(out)]) == 0
    doc = json.loads((out / "stats.json").read_text())
    assert set(doc["layers"]) == {"body.2", "body.5"}  # the default CSNN's two LIF layers
    assert all(0 <= row["rate"] <= 1 for row in doc["layers"].values())
    page = (out / "index.html").read_text()
    for name in ("rates.png", "raster_body_2.png", "membrane_body_2.png"):
        assert (out / name).stat().st_size > 0 and name in page
    assert "wrote" in capsys.readouterr().out
    assert main(["analyse", str(tmp_path / "nowhere")]) == 2
