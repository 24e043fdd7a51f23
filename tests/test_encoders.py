import pytest
import torch

from spikestack import encoders


def test_direct_repeats_input():
    x = torch.rand(3, 4)
    out = encoders.Direct(5)(x)
    assert out.shape == (5, 3, 4)
    assert all(torch.equal(out[t], x) for t in range(5))


def test_poisson_rate_and_generator():
    x = torch.tensor([0.0, 0.25, 1.0]).repeat(2000, 1)
    enc = encoders.Poisson(T=20)
    a = enc(x, generator=torch.Generator().manual_seed(1))
    b = enc(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    rates = a.mean(dim=(0, 1))
    assert rates[0] == 0 and rates[2] == 1
    assert abs(float(rates[1]) - 0.25) < 0.01
    assert set(a.unique().tolist()) <= {0.0, 1.0}


def test_latency_fires_once_stronger_earlier():
    x = torch.tensor([[1.0, 0.5, 0.0, 0.1]])
    out = encoders.Latency(T=5)(x)
    assert out.shape == (5, 1, 4)
    # t = round((1 - x) * 4): 0, 2, never, round(3.6) = 4
    assert out[:, 0, 0].tolist() == [1, 0, 0, 0, 0]
    assert out[:, 0, 1].tolist() == [0, 0, 1, 0, 0]
    assert out[:, 0, 2].sum() == 0
    assert out[:, 0, 3].tolist() == [0, 0, 0, 0, 1]
    log = encoders.Latency(T=10, threshold=0.1, linear=False, tau=5.0)
    times = log.spike_times(torch.tensor([1.0, 0.5, 0.2, 0.05]))
    assert times[0] == 0 and times[0] <= times[1] <= times[2] and times[3] == 10


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: encoders.Direct(0), ValueError),
        (lambda: encoders.Poisson(4)(torch.tensor([1.5])), ValueError),
        (lambda: encoders.Poisson(4)(torch.tensor([1])), TypeError),
        (lambda: encoders.Latency(4, threshold=1.0), ValueError),
        (lambda: encoders.Poisson(4, gain=0.0), ValueError),
    ],
)
def test_errors(call, error):
    with pytest.raises(error):
        call()


def test_signed_poisson_statistics_and_range():
    x = torch.tensor([-1.0, -0.4, 0.0, 0.3, 1.0]).repeat(4000, 1)
    enc = encoders.SignedPoisson(T=10)
    out = enc(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(out, enc(x, generator=torch.Generator().manual_seed(3)))
    assert set(out.unique().tolist()) <= {-1.0, 0.0, 1.0}
    mean = out.mean(dim=(0, 1))
    torch.testing.assert_close(mean, torch.tensor([-1.0, -0.4, 0.0, 0.3, 1.0]), atol=0.01, rtol=0)
    assert (out[..., 1] <= 0).all() and (out[..., 3] >= 0).all()  # never the wrong sign
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        enc(torch.tensor([1.5]))


def test_population_receptive_fields_and_rates():
    enc = encoders.Population(T=2000, n=5, low=0.0, high=1.0)
    x = torch.tensor([0.5, 0.0, 0.6])
    r = enc.responses(x)
    assert r.shape == (3, 5)
    # centres 0, .25, .5, .75, 1 and sigma = .25: peak at the nearest centre, value 1
    assert r.argmax(-1).tolist() == [2, 0, 2]
    assert float(r[0, 2]) == 1.0
    torch.testing.assert_close(r[2, 3], torch.exp(torch.tensor(-(0.15**2) / (2 * 0.25**2))))
    out = enc(x, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2000, 3, 5) and set(out.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(out.mean(0), r, atol=0.03, rtol=0)
    current = encoders.Population(T=4, n=5, spikes=False)(x)
    assert current.shape == (4, 3, 5) and torch.equal(current[3], r)
    assert torch.equal(enc.responses(torch.tensor([7.0])), enc.responses(torch.tensor([1.0])))
    with pytest.raises(ValueError, match="n must be >= 2"):
        encoders.Population(T=4, n=1)
    with pytest.raises(ValueError, match="low < high"):
        encoders.Population(T=4, n=3, low=1.0, high=1.0)


def test_lif_encoder_first_spike_by_hand_and_rate_order():
    enc = encoders.LIF(T=20, tau=2.0, v_threshold=1.0, gain=1.0)
    x = torch.tensor([0.5, 1.0, 1.5, 3.0])
    out = enc(x)
    assert out.shape == (20, 4)
    # V_n = I (1 - 2^-n) with reset to 0: I = 1.5 crosses 1 at n = 2, I = 3 at n = 1
    first = out.argmax(0)
    assert out[:, 0].sum() == 0 and out[:, 1].sum() == 0  # I <= threshold never fires
    assert first[2] == 1 and first[3] == 0
    assert out[:, 3].sum() > out[:, 2].sum() > 0
    assert out[:, 2].tolist()[:4] == [0.0, 1.0, 0.0, 1.0]


def test_delta_by_hand_and_against_snntorch():
    x = torch.tensor([0.0, 0.5, 0.55, 0.2, 0.2, 1.0]).reshape(6, 1)
    on = encoders.Delta(threshold=0.1)(x)
    assert on.flatten().tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    both = encoders.Delta(threshold=0.1, off_spike=True)(x + 1.0)
    assert both.flatten().tolist() == [1.0, 1.0, 0.0, -1.0, 0.0, 1.0]  # first step vs 0
    padded = encoders.Delta(threshold=0.1, off_spike=True, padding=True)(x + 1.0)
    assert padded.flatten().tolist() == [0.0, 1.0, 0.0, -1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="sequence"):
        encoders.Delta()(torch.zeros(0, 3))
    spikegen = pytest.importorskip("snntorch.spikegen", reason="needs the peers extra")
    data = torch.rand(50, 4, 3)
    for off in (False, True):
        for pad in (False, True):
            ours = encoders.Delta(threshold=0.2, off_spike=off, padding=pad)(data)
            theirs = spikegen.delta(data, threshold=0.2, off_spike=off, padding=pad)
            assert torch.equal(ours, theirs.to(ours.dtype))
