"""Kernel sharing: tied weights are one parameter; the report counts the saving."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn

from spikestack.layers import TimeDistributed, count_parameters, share_kernels


def _model() -> nn.Sequential:
    return nn.Sequential(
        TimeDistributed(nn.Conv2d(4, 4, 3, padding=1)),
        TimeDistributed(nn.Conv2d(4, 4, 3, padding=1)),
        TimeDistributed(nn.Conv2d(4, 4, 3, padding=1)),
    )


def test_share_kernels_ties_weights_and_reports_saving() -> None:
    torch.manual_seed(0)
    model = _model()
    total_before = count_parameters(model)
    report = share_kernels([model[0], model[1], model[2]])
    assert report.parameters_before == 3 * (4 * 4 * 9 + 4)
    assert report.saved == 2 * 4 * 4 * 9
    assert count_parameters(model) == total_before - report.saved
    assert model[1].module.weight is model[0].module.weight
    assert "saved" in str(report) and 0 < report.saved_fraction < 1
    # one parameter, gradients from every use add up, and an update moves all layers
    model(torch.rand(2, 1, 4, 5, 5)).sum().backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    assert torch.equal(model[2].module.weight, model[0].module.weight)
    clone = pickle.loads(pickle.dumps(model))
    assert clone[1].module.weight is clone[0].module.weight
    assert copy.deepcopy(model)[2].module.weight is not None


def test_share_bias_and_errors() -> None:
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    report = share_kernels([a, b], share_bias=True)
    assert b.bias is a.bias and report.saved == 12
    with pytest.raises(ValueError, match="equal shapes"):
        share_kernels([nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 5)])
    with pytest.raises(TypeError, match="one type"):
        share_kernels([nn.Conv2d(4, 4, 1), nn.Linear(4, 4)])
    with pytest.raises(ValueError, match="at least two"):
        share_kernels([nn.Linear(2, 2)])
