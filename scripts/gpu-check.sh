#!/usr/bin/env bash
# The torch engine on a CUDA GPU, in one short call (issue 21, item 6):
#   1. images/s of the d2l preset (224 px, batch 128, plain SGD) in fp32 and bf16 against the
#      plain fp32 PyTorch peer on the same GPU, 2 rounds interleaved;
#   2. one real epoch end to end (`nin-lab run`, 60,000 images) with its test accuracy;
#   3. two runs queued and trained through the GPU slots (`queue start --gpus auto`: side by side
#      on a machine with 2+ GPUs, one after the other on one GPU) — both must complete;
# then prints one Markdown table. Needs a build (it makes one if out/ is missing), the project's
# .venv with PyTorch 2 (node scripts/python-env.mjs) or NIN_LAB_PYTHON, and the peer script
# ($NIN_LAB_PEER, else ../shared/peers/torch_nin_bench.py). Without CUDA it stops at once with
# exit 2, saying so. GPU_CHECK_QUICK=1 trains on 6,400 images instead of the full split.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

PY=${NIN_LAB_PYTHON:-$root/.venv/bin/python}
if [ ! -x "$PY" ]; then PY=/usr/bin/python3; fi
export NIN_LAB_PYTHON=$PY
if ! info=$("$PY" - <<'EOF' 2>&1
import torch
if not torch.cuda.is_available():
    raise SystemExit(f"torch {torch.__version__} (CUDA build {torch.version.cuda}) sees no CUDA device")
p = torch.cuda.get_device_properties(0)
print(f"{p.name}, {p.total_memory / 2**30:.0f} GiB, capability {p.major}.{p.minor}, torch {torch.__version__}, {torch.cuda.device_count()} GPU(s)")
EOF
); then
  echo "gpu-check: no usable CUDA GPU: ${info##*$'\n'} ($PY). This check needs an NVIDIA GPU and a CUDA build of PyTorch." >&2
  exit 2
fi
echo "gpu-check: $info"

PEER=${NIN_LAB_PEER:-}
for p in "$root/../shared/peers/torch_nin_bench.py" "$root/../../shared/peers/torch_nin_bench.py"; do
  if [ -z "$PEER" ] && [ -f "$p" ]; then PEER=$p; fi
done
[ -f out/main/cli.js ] || npx electron-vite build >/dev/null
cli() { node bin/nin-lab.mjs "$@"; }
data=$(mktemp -d /tmp/nin-gpu-check-XXXXXX)
trap 'rm -rf "$data"' EXIT
lastjson() { tail -n 1 | "$PY" -c "import json,sys; v=json.load(sys.stdin); print($1)"; }

cli config --preset d2l > "$data/d2l.json"
ours() { # precision → images/s
  cli bench --preset d2l --set train.batchSize=128 --set 'engine="torch"' --set 'train.optimizer="sgd"' \
    --set train.momentum=0 --set "train.precision=\"$1\"" --steps 10 --warmup 3 --json | lastjson "v['imgPerS']"
}
peer() {
  [ -n "$PEER" ] || { echo "–"; return; }
  "$PY" "$PEER" --config "$data/d2l.json" --batch 128 --steps 10 --warmup 3 --device cuda |
    sed -n 's/^RESULT //p' | lastjson "v['imgPerS']"
}
declare -a P F B
for round in 1 2; do
  P+=("$(peer)"); F+=("$(ours fp32)"); B+=("$(ours bf16)")
  echo "round $round: peer ${P[-1]}, fp32 ${F[-1]}, bf16 ${B[-1]} images/s"
done

# train.compile on CUDA: what compiling costs and saves (compiled and eager steps interleaved in
# one process), the evidence nin_torch/compile.py's COMPILE_EVIDENCE lacks for CUDA.
compiled=$(cli bench --preset d2l --set train.batchSize=128 --set 'engine="torch"' --set 'train.optimizer="sgd"' \
  --set train.momentum=0 --set 'train.precision="bf16"' --set 'train.compile="on"' --steps 10 --warmup 3 --json |
  lastjson "f\"{v['imgPerS']:.1f} images/s compiled, {v['batch'] / v['eagerMedianStepS']:.1f} eager (saving {1 - v['medianStepS'] / v['eagerMedianStepS']:.1%}), compile {v['compileSeconds']:.0f} s\"")
echo "compile (bf16): $compiled"

limit=()
if [ "${GPU_CHECK_QUICK:-0}" = 1 ]; then limit=(--set data.trainLimit=6400 --set data.testLimit=2000); fi
epoch=$(cli run --preset d2l --set 'engine="torch"' --set train.epochs=1 "${limit[@]}" --data-dir "$data" --json |
  lastjson "f\"{v['epochs'][-1]['testAcc']:.4f} test accuracy, {v['epochs'][-1]['examplesPerSec']:.0f} images/s, {v['precision']}\"")
echo "one epoch: $epoch"

cli queue add --preset d2l --set 'engine="torch"' --set train.epochs=1 --set data.trainLimit=6400 \
  --set data.testLimit=1000 --seeds 2 --experiment gpu-slots --data-dir "$data" >/dev/null
start=$(date +%s)
cli queue start --gpus auto --data-dir "$data" >/dev/null
slots=$(cli ls --json --data-dir "$data" | "$PY" -c "
import json, sys
runs = [r for r in json.load(sys.stdin) if r.get('experiment') == 'gpu-slots']
print(f\"{sum(r['status'] == 'completed' for r in runs)}/{len(runs)} completed\")")
echo "GPU slots: $slots in $(( $(date +%s) - start )) s"

med() { printf '%s\n' "$@" | "$PY" -c "import sys, statistics; xs=[float(x) for x in sys.stdin if x.strip() not in ('', '–')]; print(f'{statistics.median(xs):.1f}' if xs else '–')"; }
mp=$(med "${P[@]}"); mf=$(med "${F[@]}"); mb=$(med "${B[@]}")
ratio() { "$PY" -c "print('–' if '–' in ('$1', '$2') else f'{float(\"$1\") / float(\"$2\"):.2f}×')"; }
cat <<EOF

| $info | images/s (median of 2) | ÷ peer |
|---|---:|---:|
| plain fp32 PyTorch peer, d2l 224 px, batch 128 | $mp | 1 |
| torch engine, fp32 | $mf | $(ratio "$mf" "$mp") |
| torch engine, bf16 | $mb | $(ratio "$mb" "$mp") |
| torch engine, bf16, \`train.compile: on\` | $compiled | |
| one epoch end to end (\`nin-lab run\`) | $epoch | |
| two runs through \`queue start --gpus auto\` | $slots | |
EOF
