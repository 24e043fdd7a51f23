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


def test_regression_losses_take_float_targets_or_one_hot():
    out = torch.tensor([[[1.0, 3.0]], [[3.0, 5.0]]])  # T=2, B=1: mean [2, 4]
    target = torch.tensor([[1.0, 1.0]])
    assert float(create_loss("mse")(out, target)) == pytest.approx((1 + 9) / 2)
    assert float(create_loss("l1")(out, target)) == pytest.approx((1 + 3) / 2)
    # Huber with delta 1: 0.5 * 1 for |1|, 3 - 0.5 for |3|
    assert float(create_loss("huber")(out, target)) == pytest.approx((0.5 + 2.5) / 2)
    assert float(create_loss("mse")(out, torch.tensor([1]))) == pytest.approx((4 + 9) / 2)
    with pytest.raises(ValueError, match=r"regression targets must be \[B, outputs\]"):
        create_loss("l1")(out, torch.tensor([[1.0, 2.0, 3.0]]))


def test_count_mse_by_hand_and_equal_to_snntorch():
    spikes = torch.zeros(10, 2, 3)
    spikes[:4, 0, 0] = 1  # sample 0: class 0 fired 4 times
    spikes[:, 1, 2] = 1  # sample 1: class 2 fired 10 times, class 1 never
    target = torch.tensor([0, 1])
    loss = create_loss("count_mse", correct_rate=0.8, incorrect_rate=0.2)(spikes, target)
    # targets: 8 for the class, 2 for the others
    errors = [(4 - 8) ** 2, 2**2, 2**2, 2**2, 8**2, (10 - 2) ** 2]
    assert float(loss) == pytest.approx(sum(errors) / 6 / 10)  # divided by T
    sf = pytest.importorskip("snntorch.functional", reason="needs snnTorch (the peers extra)")
    theirs = sf.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)(spikes, target)
    assert float(loss) == pytest.approx(float(theirs))


def test_first_spike_times_and_their_gradient():
    from spikestack.train.losses import first_spike_times

    spikes = torch.zeros(5, 1, 3)
    spikes[2, 0, 0] = spikes[4, 0, 0] = 1
    spikes[0, 0, 1] = 1
    spikes = spikes.requires_grad_()
    t = first_spike_times(spikes)
    assert t.tolist() == [[2.0, 0.0, 5.0]]  # the third never fires: T
    t.sum().backward()
    expected = torch.zeros(5, 1, 3)
    expected[2, 0, 0] = expected[0, 0, 1] = expected[4, 0, 2] = -1
    assert torch.equal(spikes.grad, expected)
    loss = create_loss("first_spike")(spikes.detach(), torch.tensor([1]))
    logits = torch.tensor([[-2.0, 0.0, -5.0]])
    assert float(loss) == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits, torch.tensor([1])))
    )


def test_van_rossum_distance_by_hand():
    from spikestack.train.losses import regular_train, van_rossum_distance

    a = torch.zeros(3, 1, 1)
    a[0] = 1
    b = torch.zeros(3, 1, 1)
    d = math.exp(-1 / 2.0)
    # difference filtered: 1, d, d^2 -> (1 + d^2 + d^4) / tau
    assert float(van_rossum_distance(a, b, tau=2.0)) == pytest.approx((1 + d**2 + d**4) / 2)
    assert float(van_rossum_distance(a, a, tau=2.0)) == 0.0
    assert regular_train(6, 0.5, like=a).tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    spikes = torch.zeros(6, 1, 2)
    spikes[[1, 3, 5], 0, 1] = 1  # exactly the target train of class 1
    assert float(create_loss("van_rossum", tau=3.0)(spikes, torch.tensor([1]))) == 0.0
    assert float(create_loss("van_rossum", tau=3.0)(spikes, torch.tensor([0]))) > 0


def test_rate_sparsity_penalty_by_hand():
    from torch import nn

    from spikestack.layers import TimeDistributed
    from spikestack.neurons import IF
    from spikestack.train.losses import RateSparsity

    model = nn.Sequential(TimeDistributed(nn.Linear(2, 2)), IF(), IF(v_threshold=0.5))
    with torch.no_grad():
        model[0].module.weight.copy_(torch.eye(2))
        model[0].module.bias.zero_()
    x = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]])  # neuron 0 fires every step, neuron 1 never
    with RateSparsity(model, 0.1) as reg:
        model(x)
        penalty = reg.take()
        assert float(penalty.detach()) == pytest.approx(0.1 * (0.5 + 0.5))
        assert float(reg.take()) == 0.0  # taken
    with pytest.raises(ValueError, match="rate penalty weight"):
        RateSparsity(model, -1.0)


def test_regression_training_with_an_li_readout_and_last_step_decoder():
    from torch import nn

    from spikestack.layers import LastStep, TimeDistributed
    from spikestack.neurons import LI, LIF
    from spikestack.train.engine import Engine
    from spikestack.train.run import DecodedModel

    torch.manual_seed(0)
    x = torch.rand(256, 6)
    y = x[:, :3].sum(1, keepdim=True) / 3  # a smooth target in [0, 1]
    data = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]
    model = DecodedModel(
        nn.Sequential(
            TimeDistributed(nn.Linear(6, 32)), LIF(), TimeDistributed(nn.Linear(32, 1)), LI(tau=2.0)
        ),
        LastStep(),
    )
    engine = Engine(
        model, torch.optim.Adam(model.parameters(), lr=0.01), loss=create_loss("mse"),
        input_transform=lambda b, g=None: b.unsqueeze(0).expand(8, *b.shape), progress=False,
    )  # fmt: skip
    first = engine.train_epoch(data)
    for _ in range(15):
        last = engine.train_epoch(data)
    assert math.isnan(last["acc"])  # no classes to count
    assert last["loss"] < 0.3 * first["loss"]
    assert last["loss"] < float(((y - y.mean()) ** 2).mean())  # beats predicting the mean


@pytest.mark.parametrize(
    "flags",
    [
        ["--loss", "first_spike", "--decoder", "max"],
        ["--loss", "count_mse", "--rate-penalty", "0.01"],
        ["--loss", "van_rossum", "--decoder", "last"],
    ],
)
def test_losses_and_decoders_from_the_cli(tmp_path, flags):
    import json

    from spikestack.cli import main

    run = tmp_path / "run"
    args = ["train", "--epochs", "1", "--max-samples", "80", "--no-progress", "--out", str(run)]
    assert main(args + flags) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["optim"]["loss"] == flags[1]
    assert math.isfinite(json.loads((run / "final.json").read_text())["test_loss"])
