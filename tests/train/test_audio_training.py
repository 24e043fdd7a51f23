"""``spikestack train --data audio``: WAV recordings (written here: tones of three pitches)
in a labels-file folder and in class sub-folders, three encodings, eval on another folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.io import wavfile

from spikestack.cli import main
from spikestack.data.audio import AudioFrames

RATE = 8000


def tone(freq: float, seed: int, seconds: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * seconds * rng.uniform(0.8, 1.2))) / RATE
    wave = 0.5 * np.sin(2 * np.pi * freq * (1 + 0.02 * rng.standard_normal()) * t)
    return (wave * 32767 * rng.uniform(0.5, 1.0)).astype(np.int16)


def write_folder(root, *, labels_file: bool, per_class: int, seed: int = 0) -> None:
    root.mkdir(parents=True)
    lines = ["#sample\t#class"]
    for label, freq in enumerate((300.0, 900.0, 2000.0)):
        for i in range(per_class):
            name = f"{label}_spk_{i}"
            folder = root if labels_file else root / str(label)
            folder.mkdir(exist_ok=True)
            wavfile.write(folder / f"{name}.wav", RATE, tone(freq, seed * 1000 + label * 100 + i))
            lines.append(f"{name}\t{label}")
    if labels_file:
        (root / "labels.txt").write_text("\n".join(lines) + "\n")


def test_audio_frames_by_hand() -> None:
    signal = np.sin(2 * np.pi * 500 * np.arange(4000) / RATE)
    mel = AudioFrames(T=10, encoding="mel", n_mels=16)((signal, RATE))
    assert mel.shape == (10, 1, 1, 16) and abs(float(mel.mean())) < 0.5  # standardised
    delta = AudioFrames(T=10, encoding="delta", n_mels=16)((signal, RATE))
    assert delta.shape == (10, 1, 1, 32) and delta.min() >= 0
    lif = AudioFrames(T=5, encoding="lif", n_mels=8)((signal, RATE))
    assert lif.shape == (5, 1, 1, 8) and lif.sum() > 0
    short = AudioFrames(T=20)((signal[:400], RATE))  # fewer frames than T: frames repeat
    assert short.shape == (20, 1, 1, 32)
    with pytest.raises(ValueError, match="mel, delta or lif"):
        AudioFrames(encoding="mfcc")


@pytest.mark.parametrize("encoding", ["mel", "lif"])  # steady tones give delta next to nothing
def test_train_on_wav_folders_then_eval_on_another(tmp_path, monkeypatch, capsys, encoding) -> None:
    monkeypatch.setenv("SPIKESTACK_CACHE", str(tmp_path / "cache"))
    train_dir, other = tmp_path / "train", tmp_path / "other"
    write_folder(train_dir, labels_file=True, per_class=20)
    write_folder(other, labels_file=False, per_class=6, seed=1)
    run = tmp_path / "run"
    args = ["train", "--data", "audio", "--root", str(train_dir), "--audio-encoding", encoding,
            "--n-mels", "16", "--T", "12", "--epochs", "8", "--batch-size", "8", "--no-progress",
            "--out", str(run)]  # fmt: skip
    assert main(args) == 0
    final = json.loads((run / "final.json").read_text())
    assert final["test_accuracy"] >= 0.8  # three pitches: easy
    assert main(["eval", str(run), "--data", "audio", "--root", str(other)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "on 18 samples of audio" in lines[-2] and float(lines[-1].split(": ")[1]) >= 0.8
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["audio_encoding"] == encoding and config["data"]["n_mels"] == 16


def test_missing_labels_is_a_clear_error(tmp_path, capsys) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    wavfile.write(folder / "a.wav", RATE, tone(300.0, 0))
    assert main(["train", "--data", "audio", "--root", str(folder), "--no-progress"]) == 2
    assert "no class sub-folders and 0 .txt files" in capsys.readouterr().err
