#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one command (one call of a lent GPU machine):
#   bash benchmarks/device_check.sh [OUTDIR]
# 1. the `gpu` tests (training in fp32 / amp / bf16, a GAN, gpu-mem vs a real step);
# 2. benchmarks/gpu_mem_accuracy.py: gpu-mem's estimate vs the CUDA allocator's peaks;
# 3. benchmarks/gpu.py: mlcore's training step vs a plain PyTorch loop on the GPU;
# 4. the rest of the suite on a machine where CUDA exists (`trainer.device: auto` picks
#    the GPU there), in parallel when pytest-xdist is installed.
# Each step has its own time limit, so one that hangs does not take the others' time;
# outputs go to OUTDIR (default: benchmarks/results/device) as plain text.
set -u
out="${1:-${OUT:-benchmarks/results/device}}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py="${PYTHON:-python3}"
step() {  # step NAME SECONDS COMMAND...: run, tee to OUTDIR/NAME.txt, say how it ended
    local name=$1 limit=$2 t0=$SECONDS rc
    shift 2
    echo "=== $name (limit ${limit}s): $*"
    timeout "$limit" "$@" >"$out/$name.txt" 2>&1
    rc=$?
    tail -n 40 "$out/$name.txt"
    echo "=== $name: exit $rc in $((SECONDS - t0))s"
}
"$py" -c 'import torch; print("torch", torch.__version__, "| cuda", torch.version.cuda,
      "| cudnn", torch.backends.cudnn.version(), "|", torch.cuda.get_device_name())' \
    | tee "$out/versions.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >>"$out/versions.txt"
step gpu_tests 120 "$py" -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider -rs
step gpu_mem_accuracy 150 "$py" benchmarks/gpu_mem_accuracy.py --jobs 6
step gpu_bench 150 "$py" benchmarks/gpu.py
xdist=$("$py" -c 'import xdist' 2>/dev/null && echo "-n 12")
step suite_with_cuda 150 "$py" -m pytest -m "not gpu" -q -p no:cacheprovider --maxfail=20 $xdist
