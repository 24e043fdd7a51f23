"""ANN -> SNN conversion: BatchNorm folding, QCFS, thresholds, accuracy against the ANN."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from spikestack.convert import QCFS, ann_to_snn, fold_batchnorm_in


def cnn(act=nn.ReLU) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), act(), nn.AvgPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), act(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4, 64), act(), nn.Linear(64, 10),
    )  # fmt: skip


@pytest.fixture(scope="module")
def digits_ann() -> tuple[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(data.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = order[:1400], order[1400:]
    ann = cnn()
    opt = torch.optim.Adam(ann.parameters(), lr=1e-2)
    for _ in range(10):
        for i in range(0, 1400, 64):
            idx = train[i : i + 64]
            opt.zero_grad()
            F.cross_entropy(ann(x[idx]), y[idx]).backward()
            opt.step()
    return ann.eval(), x[train[:256]], x[test], y[test]


def test_batchnorm_folding_keeps_the_outputs() -> None:
    model = cnn()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.train()
    folded = fold_batchnorm_in(model)
    assert model.training  # left as it was
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.rand(5, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model.eval()(x), atol=1e-5, rtol=1e-5)


def test_qcfs_by_its_formula() -> None:
    q = QCFS(levels=4, init_clip=2.0)
    x = torch.tensor([-1.0, 0.2, 0.3, 0.8, 1.9, 5.0], requires_grad=True)
    y = q(x)
    # (λ/L) clip(floor(x L/λ + 1/2), 0, L) with λ = 2, L = 4
    expected = [0.0, 0.0, 0.5, 1.0, 2.0, 2.0]
    assert y.tolist() == expected
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]  # straight through inside the clip
    assert q.clip.grad is not None


def test_a_digits_cnn_converts_and_approaches_its_ann(digits_ann) -> None:
    ann, calibration, x_test, y_test = digits_ann
    before = [p.detach().clone() for p in ann.parameters()]
    with torch.no_grad():
        ann_pred = ann(x_test).argmax(-1)
    ann_acc = float((ann_pred == y_test).float().mean())
    assert ann_acc > 0.95
    agreement = {}
    for T in (4, 64):
        snn = ann_to_snn(ann, [calibration], method="max", T=T)
        with torch.no_grad():
            out = snn(x_test)  # a static batch: repeated over the T steps
        assert out.shape == (T, len(x_test), 10)
        agreement[T] = float((out.mean(0).argmax(-1) == ann_pred).float().mean())
    assert agreement[64] >= 0.99 and agreement[64] >= agreement[4]
    assert all(torch.equal(a, b) for a, b in zip(before, ann.parameters(), strict=True))
    assert any(isinstance(m, nn.BatchNorm2d) for m in ann.modules())  # the ANN is unchanged
    snn = ann_to_snn(ann, [calibration], method="percentile", T=64)
    with torch.no_grad():
        assert float((snn(x_test).mean(0).argmax(-1) == ann_pred).float().mean()) >= 0.98


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(6, 6), nn.Linear(6, 6)
        self.r1, self.r2 = nn.ReLU(), nn.ReLU()
        self.out = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.r1(self.a(x))
        return self.out(self.r2(self.b(h) + h))


def test_residual_adds_convert_and_the_error_shrinks_with_T() -> None:
    torch.manual_seed(0)
    ann = Residual().eval()
    x = torch.rand(64, 6)
    with torch.no_grad():
        target = ann(x)
        errors = [
            float((ann_to_snn(ann, [x], T=T)(x).mean(0) - target).abs().mean()) for T in (4, 128)
        ]
    assert errors[1] < errors[0] / 4


def test_qcfs_networks_convert_without_calibration() -> None:
    ann = cnn(lambda: QCFS(8, 4.0)).eval()
    snn = ann_to_snn(ann, method="qcfs", T=8, sample_dims=3)
    thresholds = [m.threshold for m in snn.modules() if type(m).__name__ == "SpikingActivation"]
    assert thresholds == [4.0, 4.0, 4.0]
    assert snn(torch.rand(8, 2, 1, 8, 8)).shape == (8, 2, 10)  # a [T, B, ...] input
    with pytest.raises(ValueError, match=r"the converted SNN takes \[T=8, B, ...\]"):
        snn(torch.rand(4, 2, 1, 8, 8))


def test_what_does_not_convert_is_named() -> None:
    x = [torch.rand(2, 1, 8, 8)]
    pooled = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2))
    with pytest.raises(ValueError, match=r"2 \(MaxPool\): max pooling of rates"):
        ann_to_snn(pooled, x)
    odd = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.GELU())
    with pytest.raises(ValueError, match=r"2 \(GELU\) cannot be converted"):
        ann_to_snn(odd, x)
    with pytest.raises(ValueError, match="method='qcfs' needs QCFS activations"):
        ann_to_snn(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), method="qcfs", sample_dims=1)
    with pytest.raises(ValueError, match="needs calibration data"):
        ann_to_snn(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    with pytest.raises(ValueError, match="no nn.ReLU or QCFS"):
        ann_to_snn(nn.Sequential(nn.Linear(2, 2)), [torch.rand(1, 2)])
