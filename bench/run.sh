#!/usr/bin/env bash
# Runs the benchmark suite twice, TorchSharp with glibc's default malloc and with
# GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (see README.md), and writes bench/RESULTS.md: machine,
# date, a summary of ours against the better TorchSharp run, and BenchmarkDotNet's tables.
#
#   bench/run.sh [--quick] [--filter PATTERN] [other BenchmarkDotNet arguments]
#
# --quick: CI smoke run (few short iterations). Default filter: '*' (everything).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
project="$here/Authoring.Benchmarks"
artifacts="$here/artifacts"
results="$here/RESULTS.md"

args=("$@")
has_filter=false
mode=full
for a in "${args[@]}"; do
    [[ $a == --filter || $a == -f ]] && has_filter=true
    [[ $a == --quick ]] && mode=quick
done
$has_filter || args+=(--filter '*')

"$repo/scripts/setup-test-deps.sh"
dotnet build -c Release "$project" -nologo -v:q
dll="$project/bin/Release/net10.0/Authoring.Benchmarks.dll"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$artifacts"
status=0
echo "== TorchSharp with the default malloc"
dotnet "$dll" "${args[@]}" --artifacts "$artifacts/malloc-default" || status=$?
echo "== TorchSharp with GLIBC_TUNABLES=glibc.malloc.hugetlb=1"
GLIBC_TUNABLES=glibc.malloc.hugetlb=1 dotnet "$dll" "${args[@]}" --artifacts "$artifacts/malloc-hugetlb" || status=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
cpus=$(lscpu | sed -n 's/^CPU(s):[[:space:]]*//p' | head -1)
cores=$(lscpu | sed -n 's/^Core(s) per socket:[[:space:]]*//p' | head -1)
sockets=$(lscpu | sed -n 's/^Socket(s):[[:space:]]*//p' | head -1)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(fma|avx2|avx512.*)$' | tr '\n' ' ' || true)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)

{
    echo "# Benchmark results"
    echo
    echo "Written by \`bench/run.sh\` ($mode run). Compare ratios from one run only: these VMs are noisy."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Commit: $commit"
    echo "- CPU: $cpu; $cpus logical CPUs, $cores core(s) per socket, $sockets socket(s)"
    echo "- Vector ISA flags: ${flags:-none}"
    echo "- Load average (1/5/15 min) before: $load_before; after: $load_after"
    echo "- .NET: $(dotnet --version) SDK; TorchSharp on 2 threads (torch.set_num_threads(2))"
    echo
    echo "## Ours against the better TorchSharp run"
    echo
    echo "Median times. TorchSharp's figure is the better of its default-malloc and hugetlb runs (column"
    echo "\"malloc\"); ours comes from the default run. Ratio = ours / TorchSharp (below 1: we are faster)."
    echo
    echo "| Benchmark | Params | Ours (ms) | Ours GFLOP/s | TorchSharp (ms) | TorchSharp GFLOP/s | malloc | Ours / TorchSharp |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |"
    for f in "$artifacts"/malloc-default/results/*-flops.tsv; do
        [[ -f $f ]] || continue
        g="$artifacts/malloc-hugetlb/results/$(basename "$f")"
        awk -F'\t' -v OFS=' | ' '
            FNR == 1 { run = (FILENAME ~ /malloc-hugetlb/) ? "hugetlb" : "default"; next }
            {
                key = $1 SUBSEP $4
                if (!(key in seen)) { seen[key] = 1; order[++n] = key; cls[key] = $1; par[key] = $4 }
                if ($3 == 1) {
                    if ($5 != "NA" && (!(key in tm) || $5 + 0 < tm[key] + 0)) { tm[key] = $5; tg[key] = $7; tr[key] = run }
                } else if (run == "default") {
                    om[key] = $5; og[key] = $7
                }
            }
            function ms(ns) { return ns == "" || ns == "NA" ? "NA" : sprintf("%.3f", ns / 1e6) }
            END {
                for (i = 1; i <= n; i++) {
                    k = order[i]
                    ratio = (om[k] != "" && om[k] != "NA" && tm[k] != "") ? sprintf("%.2f", om[k] / tm[k]) : "NA"
                    print "| " cls[k], par[k], ms(om[k]), (og[k] == "" ? "NA" : og[k]), ms(tm[k]), (tg[k] == "" ? "NA" : tg[k]), (tr[k] == "" ? "NA" : tr[k]), ratio " |"
                }
            }' "$f" $( [[ -f $g ]] && echo "$g" )
    done
    echo
    echo "NA: no result (a kernel still a stub, or a failed case; see the run's log)."
    for run in malloc-default malloc-hugetlb; do
        echo
        case $run in
            malloc-default) echo "## BenchmarkDotNet: default malloc" ;;
            malloc-hugetlb) echo "## BenchmarkDotNet: GLIBC_TUNABLES=glibc.malloc.hugetlb=1" ;;
        esac
        for md in "$artifacts/$run"/results/*-report-github.md; do
            [[ -f $md ]] || continue
            echo
            echo "### $(basename "$md" -report-github.md)"
            echo
            # BenchmarkDotNet's environment block is fenced already; keep the table as is.
            cat "$md"
        done
    done
} > "$results"

echo "Wrote $results"
exit $status
