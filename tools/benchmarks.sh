#!/usr/bin/env bash
# The runs behind docs/benchmarks.md, one after another, JSON + PNG + log into OUTDIR.
#   bash tools/benchmarks.sh OUTDIR        (about 2 hours on 2 cores; needs the minilm and bench extras
#                                           and the real weights: ditto weights fetch minilm)
# Run it on an otherwise idle machine: seconds are measured, bytes and rounds are deterministic.
set -u
out=${1:?usage: tools/benchmarks.sh OUTDIR}
tuned="$(cd "$(dirname "$0")/.." && pwd)/docs/tune/minilm-policy.json"
mkdir -p "$out" && cd "$out"
export HF_HUB_OFFLINE=1
# jax 0.8.0's multi-threaded CPU matmuls can give a different plaintext reference on every call (GPT-2 small).
export XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
ALL=puma,puma-onehot,spu,fxp64,fxp64-mpcformer,ditto-exact,ditto
run() { name=$1; shift; echo "=== $name: ditto bench $*"; ditto bench --quiet --allow-failures --json "$name.json" --plot "$name.png" "$@"; }
# The current table: the real MiniLM across the emulated LAN with the tuned policy (docs/tune), then the wider run
# lists across the emulated LAN and WAN (about 60 minutes).
run minilm-128-lan-tuned --model bert --config minilm --seq 128 --mode processes --net lan --emulate \
    --runs puma,puma-onehot,optimal,optimal-fit --policy "$tuned"
run bert-base-128-fit --model bert --config base --seq 128 --runs puma,optimal,optimal-fit --net lan
run gpt2-small-128-fit --model gpt2 --config small --seq 128 --runs puma,optimal,optimal-fit --net lan
run minilm-128-lan --model bert --config minilm --seq 128 --mode processes --net lan --emulate \
    --runs puma,puma-onehot,fxp64-mpcformer,fxp64,ditto-exact,ditto,ditto-puma-gelu,optimal,optimal-puma-gelu
run minilm-128-wan --model bert --config minilm --seq 128 --mode processes --net wan --emulate \
    --runs puma,puma-onehot,fxp64,optimal,optimal-puma-gelu
run bert-tiny-128 --model bert --config tiny --seq 128 --runs $ALL --net lan --repeats 3
run bert-tiny-128-proc --model bert --config tiny --seq 128 --runs $ALL --net lan --mode processes
run minilm-128 --model bert --config minilm --seq 128 --runs $ALL --net lan
run gpt2-small-32 --model gpt2 --config small --seq 32 --runs puma,puma-onehot,spu,fxp64,fxp64-mpcformer,ditto --net lan
run bert-base-128 --model bert --config base --seq 128 --runs puma,puma-onehot,spu,fxp64,ditto --net lan
run minilm-128-proc --model bert --config minilm --seq 128 --runs puma,puma-onehot,spu,fxp64,ditto --net lan --mode processes
