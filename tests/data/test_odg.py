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
    # The image sits at x offsets p = 0, 2, 1, 0, 1, 2, 0, 1, 1 (the published trajectory);
    # in the crop (margin 4) its edge is at column 16 + p. Moving right (dx > 0) turns the
    # columns between the old and new edge dark: OFF; moving left: ON; dx = 0: nothing.
    offsets = np.cumsum([0] + [m[0] for m in odg.trajectory])
    expected = []
    for step in range(8):
        a, b = 16 + offsets[step], 16 + offsets[step + 1]
        polarity = 0 if b > a else 1
        expected += [(step, x, polarity) for x in range(min(a, b), max(a, b))]
    got = sorted(
        set(zip(events["t"].tolist(), events["x"].tolist(), events["p"].tolist(), strict=True))
    )
    assert got == sorted(expected)
    assert len(events) == 32 * len(expected)  # every row of the edge fires
    assert np.bincount(events["t"], minlength=8)[7] == 0  # the last move is vertical


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
    canvas, inside = odg.value_channel(image)
    window = (slice(margin, margin + 224), slice(margin, margin + 224))
    keep = inside[window]  # the 300 x 400 image fills 190 of the 254 canvas rows
    r = float(np.corrcoef(recon[keep], canvas[window][keep])[0, 1])
    print(f"Edge-Integral reconstruction: Pearson r = {r:.3f}")
    assert recon.shape == (224, 224)
    assert r > 0.8
    np.testing.assert_array_equal(recon, reconstruct(odg.signed_frames(image), odg=odg))


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="crop"):
        ODG(resize=100, crop=100)
    with pytest.raises(ValueError, match="trajectory"):
        ODG(trajectory=((3, 0),))
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


def test_convert_folder_skips_images_with_too_few_events(tmp_path: Path) -> None:
    from PIL import Image

    src = tmp_path / "images"
    src.mkdir()
    Image.fromarray((synthetic_image(60, 80) * 255).astype(np.uint8)).save(src / "rich.png")
    Image.fromarray(np.full((60, 80, 3), 128, dtype=np.uint8)).save(src / "flat.png")
    with pytest.warns(UserWarning, match="flat.png: 0 ODG events"):
        written = convert_folder(
            src, tmp_path / "events", odg=ODG(resize=64, crop=56), min_events=10, progress=False
        )
    assert [p.name for p in written] == ["rich.npz"]
