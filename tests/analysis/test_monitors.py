import torch
from torch import nn

from spikestack.analysis import FiringRateMonitor
from spikestack.layers import TimeDistributed
from spikestack.neurons import IF


def test_rates_and_counts_by_hand():
    # IF with threshold 1 on constant input 0.6 over T=4: H = 0.6, 1.2 (spike), 0.6, 1.2 (spike)
    model = nn.Sequential(TimeDistributed(nn.Identity()), IF(), IF(v_threshold=0.5))
    x = torch.full((4, 2, 3), 0.6)
    with FiringRateMonitor(model) as monitor:
        model(x)
        model(x)
    rates = monitor.rates()
    assert set(rates) == {"1", "2"}
    assert rates["1"] == 0.5  # 2 spikes per neuron in 4 steps
    assert monitor.spike_counts()["1"] == 2 * 2 * 3 * 2  # 2 calls, 2 spikes, 6 neurons
    assert monitor.neuron_steps()["1"] == 2 * 4 * 6
    # the second IF sees spikes at t = 1, 3 -> H = 1 (spike at 1), then 1 (spike at 3)
    assert rates["2"] == 0.5
    assert monitor.mean_rate() == 0.5
    model(x)  # detached after the with-block: nothing more is recorded
    assert monitor.spike_counts()["1"] == 24
    monitor.clear()
    assert monitor.rates() == {}
