"""Two gloo processes on the CPU give the same weights as one process on the same global batch."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from spikestack import encoders
from spikestack.layers import TimeDistributed
from spikestack.neurons import LIF
from spikestack.train import Engine, create_loss

GLOBAL_BATCH = 16


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(
        TimeDistributed(nn.Linear(12, 32)), LIF(tau=2.0), TimeDistributed(nn.Linear(32, 3))
    )


def make_data():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(64, 12, generator=g) * 2
    y = torch.randint(0, 3, (64,), generator=g)
    return TensorDataset(x, y)


def make_engine(model):
    encode = encoders.Direct(4)
    return Engine(
        model,
        torch.optim.SGD(model.parameters(), lr=0.5),
        loss=create_loss("ce"),
        input_transform=lambda x, g: encode(x),
        progress=False,
    )


def _worker(rank, world, init_file, out_file):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        data = make_data()
        sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=False)
        loader = DataLoader(data, batch_size=GLOBAL_BATCH // world, sampler=sampler)
        engine = make_engine(make_model())
        engine.fit(loader, epochs=2, log=lambda *_: None)
        if rank == 0:
            torch.save(engine.model.state_dict(), out_file)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_gloo_processes_equal_single_process(tmp_path):
    # The rank-interleaved order of DistributedSampler(shuffle=False) differs from a plain
    # loader's, but each global batch holds the same 16 samples, so the mean gradient is equal.
    data = make_data()
    single = make_engine(make_model())
    order = torch.arange(64).view(-1, 2).t().reshape(2, -1, GLOBAL_BATCH // 2)  # rank, step, sample
    batches = [torch.cat([order[0, s], order[1, s]]) for s in range(order.shape[1])]
    loader = [(data.tensors[0][b], data.tensors[1][b]) for b in batches]
    single.fit(loader, epochs=2, log=lambda *_: None)

    out_file = tmp_path / "ddp.pt"
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    # The run is deterministic, so a real bug fails every time. Inside the full suite on a
    # 2-core machine a worker process has raised in 2 of 26 runs (never in 16 runs of this
    # test alone; the cause was not caught), so one retry with a fresh rendezvous file is
    # allowed; a second failure is reported.
    for attempt in range(2):
        try:
            init = str(tmp_path / f"init{attempt}")
            mp.spawn(_worker, args=(2, init, str(out_file)), nprocs=2, join=True)
            break
        except (mp.ProcessRaisedException, mp.ProcessExitedException):
            if attempt == 1:
                raise
    ddp_state = torch.load(out_file, weights_only=True)
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(ddp_state[key], value, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_torchrun_cli_two_processes(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "spikestack.cli",
        "train",
        "--epochs",
        "1",
        "--max-samples",
        "200",
        "--no-progress",
        "--batch-size",
        "32",
        "--out",
        str(out),
        "--model-kwargs",
        '{"channels": 8}',
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0 and "terminate called without an active exception" in proc.stderr:
        # a worker aborted in C++ teardown (seen once in a fresh CI-like venv, never in 9
        # reruns): run again into a fresh folder; a failure of the training itself repeats
        out = tmp_path / "again"
        cmd[cmd.index("--out") + 1] = str(out)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert sum(line.startswith("test accuracy: ") for line in lines) == 1  # rank 0 only
    assert len(list((out / "checkpoints").iterdir())) == 1


def _optimize_worker(rank, world, init_file, out_file):
    from spikestack.train.run import optimize_everywhere

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        model = nn.Sequential(
            TimeDistributed(nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8))),
            LIF(tau=2.0),
            TimeDistributed(nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 3))),
        )
        x = (torch.rand(4, 4, 2, 8, 8) < 0.3).float()
        model, report = optimize_everywhere(model, x)
        ddp = nn.parallel.DistributedDataParallel(model)  # checks layouts across ranks
        ddp(x).sum().backward()
        weight = model[0].module[0].weight
        torch.save(
            {
                "chosen": report.chosen,
                "cl": weight.is_contiguous(memory_format=torch.channels_last),
            },
            f"{out_file}.{rank}",
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_optimize_makes_one_choice_for_every_rank(tmp_path):
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    out = str(tmp_path / "choice")
    mp.spawn(_optimize_worker, args=(2, str(tmp_path / "init"), out), nprocs=2, join=True)
    first, second = (torch.load(f"{out}.{rank}") for rank in range(2))
    assert first == second
