#!/usr/bin/env bash
# The GPU checks of the fused kernels in one short run, for a session that is lent a CUDA
# machine (the CPU suite runs the same Triton kernels only in Triton's interpreter):
#   1. the Triton kernels against the reference on the GPU (spikes identical, gradients close);
#   2. `spikestack bench neurons --device cuda`: eager, torch.compile, SpikingJelly (when
#      installed) and the triton backend, forward and forward+backward, T = 4, 16, 64;
#   3. the Triton event-driven layers against dense ones on the GPU, and
#      `spikestack bench sparse --device cuda` (speed against dense by input rate).
# Runs from the repository root with the machine's own Python (torch, triton, numba, numpy,
# scipy present); nothing is installed. Writes its log to $OUT (or ./gpu_check.log).
#     bash benchmarks/gpu_check.sh            # about 3 minutes on one H100 with torch.compile
#     bash benchmarks/gpu_check.sh --no-compile
set -uo pipefail
PY=${PYTHON:-python3}
LOG=${OUT:-.}/gpu_check.log
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
unset TRITON_INTERPRET
{
  "$PY" -c "import torch, triton; assert torch.cuda.is_available(), 'no CUDA device';
print(torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())" || exit 1
  "$PY" -m pytest -q -p no:cacheprovider tests/kernels/test_triton_kernels.py \
    tests/layers/test_event_driven_triton.py
  tests=$?
  "$PY" -c "import sys; from spikestack.cli import main; sys.exit(main(sys.argv[1:]))" \
    bench neurons --device cuda --repeats 20 "$@"
  bench=$?
  "$PY" -c "import sys; from spikestack.cli import main; sys.exit(main(sys.argv[1:]))" \
    bench sparse --device cuda
  sparse=$?
  echo "triton tests exit $tests, benchmark exit $bench, sparse benchmark exit $sparse"
  exit $(( tests || bench || sparse ))
} 2>&1 | tee "$LOG"
