#!/usr/bin/env bash
# The README's "Findings": the quick run's claims with more seeds.
#
#   bash benchmark/findings.sh [RUN_DIR] [SEEDS...]      (default: runs/quick, seeds 2 3 4)
#
# Needs a finished `occpose-bench run --preset quick --out RUN_DIR` (seeds 0 and 1 of every
# model). Trains further seeds of tcn, tcn-occ1 and tcn-aug on the same benchmark with the
# preset's [train] settings (RUN_DIR/runs/<model>-s<seed>; reruns resume; one torch thread per
# run, as `run` trains, so a seed's checkpoint is the one `run` would write), then evaluates every
# seed of the three models on the same test data as the run (the Blender renders when the run
# had them) into RUN_DIR/findings: report.md holds the paired differences
# (tcn-occ1 - tcn, tcn-aug - tcn) per level with 95% intervals and the spread over seeds.
set -euo pipefail
run=${1:-runs/quick}
shift || true
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(2 3 4)
bench=${OCCPOSE_BENCH:-.venv/bin/occpose-bench}
[ -f "$run/summary.json" ] || { echo "findings.sh: $run/summary.json: not found; run 'occpose-bench run --preset quick --out $run' first" >&2; exit 2; }
preset=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['preset'])" "$run/summary.json")
test_data=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['test_data'])" "$run/summary.json")
runs=()
jobs=()
for model in tcn tcn-occ1 tcn-aug; do
    for seed in 0 1 "${seeds[@]}"; do
        runs+=("$run/runs/$model-s$seed")
        jobs+=("$model $seed")
    done
done
# as `run` trains: one torch thread per run, as many runs at once as CPUs (same bytes whatever
# the core count); seeds 0 and 1 are the run's own: train finds them complete (and refuses if
# their settings differ from the preset's)
cpus=$(python3 -c "import os; print(len(os.sched_getaffinity(0)))")
printf '%s\n' "${jobs[@]}" | OMP_NUM_THREADS=1 xargs -P "$cpus" -L 1 sh -c \
    '"$0" train --data "$1/benchmark" --config "$2" --model "$3" --seed "$4" --out "$1/runs/$3-s$4" --quiet' \
    "$bench" "$run" "$preset"
"$bench" evaluate --data "$test_data" --runs "${runs[@]}" --out "$run/findings" --quiet
echo "findings: $run/findings/report.md"
