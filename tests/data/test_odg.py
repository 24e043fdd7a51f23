"""ODG image -> events (ES-ImageNet) and Edge-Integral reconstruction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikestack.data.odg import ODG, convert_folder, load_image, reconstruct


def synthetic_image(h: int = 300, w: int = 400) -> np.ndarray:
    """RGB scene: two-level background, a bright disk, a dark box, a vertical gradient."""
    yy, xx = np.mgrid[0:h, 0:w] / h
    grey = 0.2 + 0.3 * (xx > 0.5)
    grey = np.where((xx - 0.6) ** 2 + (yy - 0.4) ** 2 < 0.05, 0.9, grey)
    grey = np.where((abs(xx - 0.3) < 0.15) & (abs(yy - 0.7) < 0.1), 0.05, grey)
    grey = grey + 0.25 * yy
    return np.stack([grey, 0.8 * grey, 0.5 * grey], axis=-1)


def test_vertical_edge_by_hand() -> None:
    image = np.zeros((40, 40))
    image[:, 20:] = 1.0  # dark left, bright right; edge between columns 19 and 20
    odg = ODG(resize=40, crop=32, threshold=0.5)
    events = odg(image)
    # margin 4; every step with dx != 0 crosses the edge at view column 15 on all 32 rows:
    # moves E, S, W, N, SE, NW, NE, SW -> ON at steps 0, 4, 6; OFF at 2, 5, 7; none at 1, 3
    assert len(events) == 6 * 32
    assert set(events["x"].tolist()) == {15}
    on_steps = sorted(set(events["t"][events["p"] == 1].tolist()))
    off_steps = sorted(set(events["t"][events["p"] == 0].tolist()))
    assert on_steps == [0, 4, 6] and off_steps == [2, 5, 7]
    assert np.all(np.bincount(events["t"], minlength=8)[[1, 3]] == 0)


def test_events_per_image_and_polarity_balance() -> None:
    odg = ODG()
    events = odg(synthetic_image())
    per_step = np.bincount(events["t"], minlength=8)
    print(f"ODG synthetic image: {len(events)} events, per step {per_step.tolist()}")
    assert events.dtype.names == ("t", "x", "y", "p")
    assert 0.001 < len(events) / (8 * 224 * 224) < 0.2
    assert 0.4 < events["p"].mean() < 0.6
    assert events["x"].max() < 224 and events["y"].max() < 224 and events["t"].max() == 7
    assert np.all(per_step > 0)


def test_edge_integral_reconstruction_correlates_with_source() -> None:
    odg = ODG()
    image = synthetic_image()
    events = odg(image)
    recon = reconstruct(events, odg=odg)
    margin = (odg.resize - odg.crop) // 2
    source = odg.value_channel(image)[margin : margin + 224, margin : margin + 224]
    r = float(np.corrcoef(recon.ravel(), source.ravel())[0, 1])
    print(f"Edge-Integral reconstruction: Pearson r = {r:.3f}")
    assert recon.shape == (224, 224)
    assert r > 0.8
    np.testing.assert_array_equal(recon, reconstruct(odg.signed_frames(image), odg=odg))


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="crop"):
        ODG(resize=100, crop=100)
    with pytest.raises(ValueError, match="trajectory"):
        ODG(trajectory=((2, 0),))
    with pytest.raises(ValueError, match="threshold"):
        ODG(threshold=0.0)
    with pytest.raises(ValueError, match="image"):
        ODG()(np.zeros((4, 4, 2)))


def test_convert_folder_writes_one_file_per_image(tmp_path: Path, capsys) -> None:
    from PIL import Image

    from spikestack.data import read_events

    src = tmp_path / "images"
    (src / "cls_b").mkdir(parents=True)
    for i, name in enumerate(["a.png", "cls_b/b.jpg", "cls_b/c.png"]):
        arr = (synthetic_image(60 + 10 * i, 80) * 255).astype(np.uint8)
        Image.fromarray(arr).save(src / name)
    (src / "notes.txt").write_text("not an image")
    odg = ODG(resize=64, crop=56)
    written = convert_folder(src, tmp_path / "events", odg=odg)
    assert sorted(p.relative_to(tmp_path / "events").as_posix() for p in written) == [
        "a.npz", "cls_b/b.npz", "cls_b/c.npz",
    ]  # fmt: skip
    assert "ODG" in capsys.readouterr().err  # tqdm progress bar
    events = read_events(tmp_path / "events" / "cls_b" / "c.npz")
    np.testing.assert_array_equal(events, odg(load_image(src / "cls_b" / "c.png")))
    assert len(events) > 0
