"""Audio -> spikes for spoken-digit style data (numpy / scipy only).

Pipeline: waveform -> log mel energies (:class:`MelSpectrogram`) -> spikes, either by
send-on-delta (:class:`SendOnDelta`, a level-crossing "delta modulator" per channel) or by
a leaky integrate-and-fire cochlea (:class:`LIFCochlea`, one LIF neuron per channel
driven by the channel's energy above a floor). Spikes are ``[T, channels]`` arrays;
:func:`spikes_to_events` turns them into 1-D events (``EVENT_DTYPE_1D``, x = channel).

    signal, sr = read_wav("0_theo_0.wav")
    mel = MelSpectrogram(sample_rate=sr)(signal)        # [T, 32] in dB
    spikes = SendOnDelta(threshold_db=3.0)(mel)         # [T, 32] signed counts
    events = spikes_to_events(spikes, dt_us=10_000)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from spikestack.data.events import EVENT_DTYPE_1D


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file as float64 in [-1, 1] (channels averaged) and its sample rate."""
    from scipy.io import wavfile

    rate, data = wavfile.read(path)
    if data.dtype.kind == "i":
        data = data / float(-np.iinfo(data.dtype).min)
    elif data.dtype.kind == "u":  # 8-bit WAV is unsigned, centred on 128
        data = (data.astype(np.float64) - 128.0) / 128.0
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 2:
        data = data.mean(axis=1)
    return data, int(rate)


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: m = 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    *, n_mels: int, n_fft: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Triangular filters ``[n_mels, n_fft // 2 + 1]`` with centres equally spaced in mel.

    Filter k rises linearly from f_{k-1} to 1 at f_k and falls to 0 at f_{k+1}, where
    f_0 .. f_{n_mels+1} are n_mels + 2 points equally spaced on the mel scale between
    f_min and f_max (peak-normalised, as in HTK / Davis & Mermelstein 1980).
    """
    f_max = sample_rate / 2.0 if f_max is None else f_max
    if n_mels < 1 or n_fft < 2:
        raise ValueError(f"n_mels must be >= 1 and n_fft >= 2; got {n_mels}, {n_fft}")
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= f_min < f_max <= sample_rate / 2; got {f_min}, {f_max}")
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lo, centre, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lo) / (centre - lo)
    falling = (hi - freqs) / (hi - centre)
    return np.clip(np.minimum(rising, falling), 0.0, None)


@dataclass(frozen=True)
class MelSpectrogram:
    """Log mel energies ``[T, n_mels]`` in dB.

    Frames of ``win_ms`` (Hann window) every ``hop_ms``; E_k[t] = sum_f M[k, f] |X_t(f)|^2,
    output 10 log10(E_k[t] + 10^(floor_db / 10)), so digital silence gives exactly floor_db.
    T = 1 + (N - win) // hop (a signal shorter than one window is zero-padded to one).
    """

    sample_rate: int = 8000
    n_mels: int = 32
    win_ms: float = 25.0
    hop_ms: float = 10.0
    n_fft: int | None = None
    f_min: float = 20.0
    f_max: float | None = None
    floor_db: float = -100.0

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.win_ms <= 0 or self.hop_ms <= 0:
            raise ValueError("sample_rate, win_ms and hop_ms must be > 0")

    @property
    def win(self) -> int:
        return max(2, round(self.sample_rate * self.win_ms / 1000.0))

    @property
    def hop(self) -> int:
        return max(1, round(self.sample_rate * self.hop_ms / 1000.0))

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        x = np.asarray(signal, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"signal must be 1-D (mono samples); got shape {x.shape}")
        win, hop = self.win, self.hop
        n_fft = self.n_fft or int(2 ** np.ceil(np.log2(win)))
        if n_fft < win:
            raise ValueError(f"n_fft must be >= the window ({win} samples); got {n_fft}")
        if len(x) < win:
            x = np.pad(x, (0, win - len(x)))
        count = 1 + (len(x) - win) // hop
        idx = np.arange(win)[None, :] + hop * np.arange(count)[:, None]
        frames = x[idx] * np.hanning(win)[None, :]
        power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2
        bank = mel_filterbank(
            n_mels=self.n_mels,
            n_fft=n_fft,
            sample_rate=self.sample_rate,
            f_min=self.f_min,
            f_max=self.f_max,
        )
        energy = power @ bank.T
        return 10.0 * np.log10(energy + 10.0 ** (self.floor_db / 10.0))


@dataclass(frozen=True)
class SendOnDelta:
    """Send-on-delta (level-crossing) encoding of ``[T, C]`` features.

    Each channel keeps a reference r (initially its first value). At step t,
    k = trunc((x_t - r) / threshold) spikes are sent (signed: k > 0 up, k < 0 down) and
    r <- r + k * threshold. Output ``[T, C]`` int16 signed counts; a constant input
    (e.g. silence) sends nothing.
    """

    threshold: float = 3.0

    def __post_init__(self) -> None:
        if self.threshold <= 0:
            raise ValueError(f"threshold must be > 0; got {self.threshold}")

    def __call__(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be [T, channels]; got shape {x.shape}")
        out = np.zeros(x.shape, dtype=np.int16)
        if not len(x):
            return out
        ref = x[0].copy()
        for t in range(1, len(x)):
            k = np.trunc((x[t] - ref) / self.threshold)
            out[t] = k
            ref += k * self.threshold
        return out


@dataclass(frozen=True)
class LIFCochlea:
    """One leaky integrate-and-fire neuron per channel, driven by the energy above a floor.

    I_t = max(0, (x_t - floor_db) / range_db)  (x in dB); with a = dt / tau, per step
    v <- v + a (gain I_t - v); a spike when v >= threshold, then v <- 0 (reset to rest).
    Each feature frame is held for ``steps_per_frame`` steps of dt = hop / steps_per_frame.
    Output ``[T * steps_per_frame, C]`` uint8 spikes. Below the floor nothing fires.
    """

    tau_ms: float = 20.0
    dt_ms: float = 2.5
    threshold: float = 0.5
    gain: float = 1.0
    floor_db: float = -60.0
    range_db: float = 60.0
    steps_per_frame: int = 4

    def __post_init__(self) -> None:
        if (
            min(self.tau_ms, self.dt_ms, self.threshold, self.range_db) <= 0
            or self.steps_per_frame < 1
        ):
            raise ValueError(
                "tau_ms, dt_ms, threshold, range_db must be > 0 and steps_per_frame >= 1"
            )
        if self.dt_ms > self.tau_ms:
            raise ValueError(f"dt_ms ({self.dt_ms}) must not exceed tau_ms ({self.tau_ms})")

    def __call__(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be [T, channels]; got shape {x.shape}")
        current = self.gain * np.clip((x - self.floor_db) / self.range_db, 0.0, None)
        current = np.repeat(current, self.steps_per_frame, axis=0)
        a = self.dt_ms / self.tau_ms
        v = np.zeros(x.shape[1])
        out = np.zeros(current.shape, dtype=np.uint8)
        for t, i_t in enumerate(current):
            v += a * (i_t - v)
            fired = v >= self.threshold
            out[t] = fired
            v[fired] = 0.0
        return out


def spikes_to_events(spikes: np.ndarray, *, dt_us: int) -> np.ndarray:
    """``[T, C]`` spike counts (signed for send-on-delta) -> 1-D events sorted by t.

    |n| events per (t, c) at time t * dt_us µs with x = c and p = 1 for n > 0, 0 for n < 0.
    """
    s = np.asarray(spikes)
    if s.ndim != 2:
        raise ValueError(f"spikes must be [T, channels]; got shape {s.shape}")
    t, c = np.nonzero(s)
    n = np.abs(s[t, c]).astype(np.int64)
    events = np.empty(int(n.sum()), dtype=EVENT_DTYPE_1D)
    events["t"] = np.repeat(t * int(dt_us), n)
    events["x"] = np.repeat(c, n)
    events["p"] = np.repeat((s[t, c] > 0).astype(np.int8), n)
    return events


def encode_wav(
    path: str | os.PathLike[str],
    *,
    method: str = "delta",
    mel: MelSpectrogram | None = None,
    delta: SendOnDelta | None = None,
    cochlea: LIFCochlea | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a WAV file and encode it; returns ``(spikes [T, C], events)``.

    ``method`` is ``"delta"`` (send-on-delta on log mel energies) or ``"lif"`` (LIF cochlea).
    """
    signal, rate = read_wav(path)
    mel = mel or MelSpectrogram(sample_rate=rate)
    if mel.sample_rate != rate:
        raise ValueError(f"{path} has sample rate {rate}; mel expects {mel.sample_rate}")
    features = mel(signal)
    hop_us = round(1e6 * mel.hop / rate)
    if method == "delta":
        spikes = (delta or SendOnDelta())(features)
        return spikes, spikes_to_events(spikes, dt_us=hop_us)
    if method == "lif":
        cochlea = cochlea or LIFCochlea(dt_ms=mel.hop_ms / 4)
        spikes = cochlea(features)
        return spikes, spikes_to_events(spikes, dt_us=max(1, hop_us // cochlea.steps_per_frame))
    raise ValueError(f"method must be 'delta' or 'lif'; got {method!r}")


@dataclass(frozen=True)
class AudioFrames:
    """A recording ``(signal, sample_rate)`` -> ``[T, 1, 1, C]`` float32 input frames.

    ``encoding``: ``"mel"`` (log mel energies, per-utterance standardised: zero mean and
    unit variance over the recording, C = n_mels), ``"delta"`` (send-on-delta spikes of the
    log mel energies, ON and OFF counts in separate channels, C = 2 n_mels) or ``"lif"``
    (the LIF cochlea's spikes, C = n_mels). The recording's frames (one per ``hop_ms``) are
    then binned into T steps of equal duration: the mean of each bin for mel, the spike
    count for the spiking encodings; a recording shorter than T frames repeats frames.
    """

    T: int = 40
    encoding: str = "mel"
    n_mels: int = 32
    hop_ms: float = 10.0
    delta_threshold_db: float = 3.0

    def __post_init__(self) -> None:
        if self.encoding not in ("mel", "delta", "lif"):
            raise ValueError(f"audio encoding must be mel, delta or lif; got {self.encoding!r}")
        if self.T < 1 or self.n_mels < 1 or self.hop_ms <= 0:
            raise ValueError("T and n_mels must be >= 1 and hop_ms > 0")

    @property
    def channels(self) -> int:
        return 2 * self.n_mels if self.encoding == "delta" else self.n_mels

    def __call__(self, recording: tuple[np.ndarray, int]) -> np.ndarray:
        signal, rate = recording
        mel = MelSpectrogram(sample_rate=rate, n_mels=self.n_mels, hop_ms=self.hop_ms)(signal)
        if self.encoding == "mel":
            features = (mel - mel.mean()) / (mel.std() + 1e-6)
            reduce = np.mean
        elif self.encoding == "delta":
            spikes = SendOnDelta(self.delta_threshold_db)(mel)
            features = np.concatenate([np.clip(spikes, 0, None), np.clip(-spikes, 0, None)], axis=1)
            reduce = np.sum
        else:
            features = LIFCochlea(dt_ms=self.hop_ms / 4)(mel).astype(np.float64)
            reduce = np.sum
        frames = len(features)
        edges = np.linspace(0, frames, self.T + 1)
        out = np.empty((self.T, features.shape[1]), dtype=np.float32)
        for i in range(self.T):  # bins of equal duration; at least one frame each
            lo = min(int(np.floor(edges[i])), frames - 1)
            hi = max(int(np.floor(edges[i + 1])), lo + 1)
            out[i] = reduce(features[lo:hi], axis=0)
        return out.reshape(self.T, 1, 1, -1)
