"""The ``spikestack bench neurons`` command and the memory contract it reports."""

from __future__ import annotations

import pytest
import torch

from spikestack.cli import build_parser
from spikestack.functional import reference
from spikestack.kernels import cpu as cpu_backend
from spikestack.kernels.bench import LIF_OPTIONS, _saved_bytes


def test_bench_neurons_is_registered() -> None:
    args = build_parser().parse_args(
        ["bench", "neurons", "--quick", "--steps", "2", "--no-compile"]
    )
    assert args.func.__name__ == "_bench" and args.custom is False  # -> run_neuron_bench
    assert args.quick and args.no_compile and args.steps == [2]
    assert build_parser().parse_args(["bench", "neurons", "--custom"]).custom is True


@pytest.mark.skipif(not cpu_backend.is_available(), reason="numba is not installed")
def test_fused_backward_keeps_only_the_membrane() -> None:
    """Per neuron-step the fused LIF keeps H (4 bytes) plus v_init (4/T); the reference 12."""
    steps, n = 8, 4096
    x = torch.randn(steps, n)
    v0 = torch.zeros(n)
    fused = _saved_bytes(lambda t: cpu_backend.lif(t, v0, **LIF_OPTIONS)[0], x)
    plain = _saved_bytes(lambda t: reference.lif(t, v0, **LIF_OPTIONS)[0], x)
    assert fused == pytest.approx(4 + 4 / steps)
    assert plain >= 12


@pytest.mark.skipif(not cpu_backend.is_available(), reason="numba is not installed")
def test_bench_runs_and_reports_the_fused_row(monkeypatch: pytest.MonkeyPatch) -> None:
    from spikestack.kernels import bench

    monkeypatch.setattr(bench, "first_call_seconds", lambda: 0.5)  # skips two subprocesses
    lines: list[str] = []
    rows = bench.run_neurons(
        steps=(2,), neurons=64, repeats=1, compile_reference=False, out=lines.append
    )
    fused = [r for r in rows[2] if r.fused]
    assert [r.name for r in fused] == ["spikestack cpu (fused)"]
    assert fused[0].fwd_ms > 0 and fused[0].fwdbwd_ms > 0
    assert any(line.startswith("fused forward / copy") for line in lines)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a GPU")
def test_bench_on_cuda_without_a_gpu_says_so() -> None:
    from spikestack.kernels.bench import run_neurons

    with pytest.raises(SystemExit, match="no CUDA device"):
        run_neurons(steps=(2,), neurons=8, device="cuda", out=lambda _: None)


@pytest.mark.skipif(not cpu_backend.is_available(), reason="numba is not installed")
def test_train_step_benchmark_runs_channels_last(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "train_step.py"
    spec = importlib.util.spec_from_file_location("train_step_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = ["--T", "2", "--batch", "2", "--steps", "1", "--no-profile", "--channels-last"]
    assert module.main(args) == 0
    out = capsys.readouterr().out
    assert "(channels-last)" in out and "spikestack LIF (cpu fused)" in out
