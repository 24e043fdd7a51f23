"""Audio -> spikes: mel filterbank by hand, send-on-delta and LIF cochlea by hand,
and the real FSDD sample recordings."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from spikestack.data.audio import (
    LIFCochlea,
    MelSpectrogram,
    SendOnDelta,
    encode_wav,
    mel_filterbank,
    read_wav,
    spikes_to_events,
)


def test_mel_filterbank_single_filter_by_hand() -> None:
    bank = mel_filterbank(n_mels=1, n_fft=8, sample_rate=8000, f_min=0.0, f_max=4000.0)
    assert bank.shape == (1, 5)  # bins at 0, 1000, 2000, 3000, 4000 Hz
    top = 2595 * math.log10(1 + 4000 / 700)
    centre = 700 * (10 ** (top / 2 / 2595) - 1)  # ~1113.8 Hz
    # rising edge 0 -> centre, falling edge centre -> 4000 Hz
    expected = [0.0, 1000 / centre, 2000 / (4000 - centre), 1000 / (4000 - centre), 0.0]
    np.testing.assert_allclose(bank[0], expected, rtol=1e-12)


def test_pure_tone_peaks_in_the_nearest_filter() -> None:
    sr, f0 = 8000, 1000.0
    tone = 0.5 * np.sin(2 * np.pi * f0 * np.arange(sr // 2) / sr)
    mel = MelSpectrogram(sample_rate=sr, n_mels=32, f_min=0.0)
    energies = mel(tone).mean(axis=0)
    from spikestack.data.audio import hz_to_mel, mel_to_hz

    centres = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(4000.0), 34))[1:-1]
    assert int(np.argmax(energies)) == int(np.argmin(np.abs(centres - f0)))


def test_send_on_delta_by_hand() -> None:
    spikes = SendOnDelta(threshold=3.0)(np.array([[0.0], [3.5], [10.0], [4.0]]))
    # ref 0 -> +1 (ref 3) -> +2 (ref 9) -> -1 (ref 6)
    np.testing.assert_array_equal(spikes[:, 0], [0, 1, 2, -1])
    events = spikes_to_events(spikes, dt_us=10_000)
    np.testing.assert_array_equal(events["t"], [10_000, 20_000, 20_000, 30_000])
    np.testing.assert_array_equal(events["p"], [1, 1, 1, 0])
    assert np.all(events["x"] == 0)


def test_lif_cochlea_period_by_hand() -> None:
    # x = 0 dB -> I = (0 + 60) / 60 = 1; a = 2.5 / 20; v_n = 1 - 0.875^n >= 0.5 at n = 6
    cochlea = LIFCochlea(tau_ms=20.0, dt_ms=2.5, threshold=0.5, floor_db=-60, range_db=60)
    spikes = cochlea(np.zeros((3, 2)))
    assert spikes.shape == (12, 2)
    np.testing.assert_array_equal(np.flatnonzero(spikes[:, 0]), [5, 11])
    assert not cochlea(np.full((3, 2), -80.0)).any()  # below the floor
    with pytest.raises(ValueError, match="dt_ms"):
        LIFCochlea(tau_ms=1.0, dt_ms=2.0)


def test_fsdd_small_recordings_give_spikes(sample_folder, subtests) -> None:
    folder = sample_folder("fsdd_small")
    for method in ("delta", "lif"):
        for name in ["0_theo_0.wav", "7_theo_9.wav"]:
            with subtests.test(f"{name} by {method}"):
                signal, rate = read_wav(folder / name)
                assert rate == 8000 and signal.ndim == 1 and np.abs(signal).max() <= 1.0
                frames = 1 + (len(signal) - 200) // 80  # 25 ms window, 10 ms hop at 8 kHz
                spikes, events = encode_wav(folder / name, method=method)
                steps = frames * (4 if method == "lif" else 1)
                assert spikes.shape == (steps, 32)
                assert np.abs(spikes).sum() > 20
                assert len(events) == np.abs(spikes.astype(np.int64)).sum()
                assert events["x"].max() < 32 and np.all(np.diff(events["t"]) >= 0)


def test_silence_gives_no_spikes(tmp_path: Path) -> None:
    from scipy.io import wavfile

    path = tmp_path / "silence.wav"
    wavfile.write(path, 8000, np.zeros(4000, dtype=np.int16))
    for method in ("delta", "lif"):
        spikes, events = encode_wav(path, method=method)
        assert spikes.shape[1] == 32 and not spikes.any() and len(events) == 0
    with pytest.raises(ValueError, match="method"):
        encode_wav(path, method="nope")
    with pytest.raises(ValueError, match="1-D"):
        MelSpectrogram()(np.zeros((2, 100)))
