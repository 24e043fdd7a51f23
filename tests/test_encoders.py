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
