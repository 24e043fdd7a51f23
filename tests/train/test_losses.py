import math

import pytest
import torch

from spikestack.train.losses import create_loss, list_losses


def test_registry():
    assert {"ce", "mse", "tet"} <= set(list_losses())
    with pytest.raises(ValueError, match="did you mean"):
        create_loss("tett")


def test_ce_on_mean_by_hand():
    out = torch.tensor([[[2.0, 0.0]], [[0.0, 0.0]]])  # T=2, B=1: mean logits (1, 0)
    loss = create_loss("ce")(out, torch.tensor([0]))
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 1)))


def test_mse_on_rate_by_hand():
    out = torch.tensor([[[1.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]]])  # rates (1, 0, 0.5)
    loss = create_loss("mse")(out, torch.tensor([0]))
    assert loss.item() == pytest.approx((0 + 0 + 0.25) / 3)


def test_tet_by_hand():
    out = torch.tensor([[[2.0, 0.0]], [[0.0, 0.0]]])
    y = torch.tensor([0])
    ce_t = [-math.log(math.e**2 / (math.e**2 + 1)), math.log(2)]
    mse_t = [((2 - 1) ** 2 + 1) / 2, 1.0]
    lam = 0.05
    expected = (1 - lam) * sum(ce_t) / 2 + lam * sum(mse_t) / 2
    assert create_loss("tet", lam=lam)(out, y).item() == pytest.approx(expected)
    assert create_loss("tet", lam=0.0)(out, y).item() == pytest.approx(sum(ce_t) / 2)


def test_static_output_counts_as_one_step_and_shape_errors():
    out = torch.randn(4, 3)
    y = torch.tensor([0, 1, 2, 0])
    assert create_loss("ce")(out, y).item() == pytest.approx(
        torch.nn.functional.cross_entropy(out, y).item()
    )
    with pytest.raises(ValueError, match="targets must be"):
        create_loss("ce")(out, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="expected model output"):
        create_loss("ce")(torch.randn(2, 3, 4, 5), y)


def test_supervised_contrastive_by_hand():
    from spikestack.train.losses import supervised_contrastive

    # three unit vectors: a and b same class (orthogonal), c another class (opposite to a)
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    y = torch.tensor([0, 0, 1])
    tau = 0.5
    e = math.exp
    # anchor a: positive b (sim 0), others {b: 0, c: -1}; anchor b: positive a (0), others {a: 0, c: 0}
    la = -math.log(e(0) / (e(0) + e(-1 / tau)))
    lb = -math.log(e(0) / (e(0) + e(0)))
    expected = (la + lb) / 2  # c has no positive and is not an anchor
    assert supervised_contrastive(z, y, temperature=tau).item() == pytest.approx(expected, rel=1e-6)


def test_tcl_adds_contrast_over_time_steps():
    from spikestack.train.losses import supervised_contrastive

    out = torch.randn(3, 4, 5)
    y = torch.tensor([0, 1, 0, 1])
    ce = create_loss("ce")(out, y)
    con = supervised_contrastive(out.flatten(0, 1), y.repeat(3), temperature=0.1)
    assert create_loss("tcl", weight=0.3)(out, y).item() == pytest.approx(
        (ce + 0.3 * con).item(), rel=1e-6
    )


def test_stcl_two_views():
    loss = create_loss("stcl", weight=1.0)
    assert getattr(loss, "views", 1) == 2
    a = torch.randn(2, 4, 3, requires_grad=True)
    b = torch.randn(2, 4, 3, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    value = loss(a, b, y)
    value.backward()
    assert torch.isfinite(value) and a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="differ in shape"):
        loss(a, b[:1], y)
