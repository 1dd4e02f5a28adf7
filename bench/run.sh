#!/usr/bin/env bash
# Runs the benchmark suite twice, TorchSharp with glibc's default malloc and with
# GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (see README.md), and writes bench/RESULTS.md: machine,
# date, a summary of ours against the better TorchSharp run, and BenchmarkDotNet's tables.
#
#   bench/run.sh [--quick] [--filter PATTERN] [other BenchmarkDotNet arguments]
#   bench/run.sh --report-only     # rewrite RESULTS.md from the last run's bench/artifacts/
#   bench/run.sh --spiking-epoch [ROUNDS [STEPS]]   # the SpikingFashion sample's training step against its
#                                  # TorchSharp twin (SpikingEpoch.cs), both malloc settings, printed; RESULTS.md is left alone
#   bench/run.sh --sample-epoch [NAME[,NAME...]|all [ROUNDS [STEPS]]]  # each sample's training step against its TorchSharp
#                                  # twin (SampleEpoch.cs, Twins/): parity check, then interleaved timing, as above
#
# The load average before and after the run goes to bench/artifacts/load.txt, which --report-only reads back
# (artifacts gathered class by class, at the machine's quiet moments, can list one line per class there).
#
# --quick: CI smoke run (few short iterations). Default filter: '*' (everything).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
project="$here/Authoring.Benchmarks"
artifacts="$here/artifacts"
results="$here/RESULTS.md"

if [[ ${1:-} == --spiking-epoch || ${1:-} == --sample-epoch ]]; then
    # Not a BenchmarkDotNet run: steps of both sides interleaved in one process (see SpikingEpoch.cs).
    "$repo/scripts/setup-test-deps.sh"
    "$repo/scripts/ensure-dataset.sh"
    dotnet build -c Release "$project" -nologo -v:q
    dll="$project/bin/Release/net10.0/Authoring.Benchmarks.dll"
    # Both malloc settings, as for the suite (libtorch allocates per op; see README.md): compare against the better.
    # A twin failing its parity check makes a run exit 1 after timing the others: still run the second setting.
    status=0
    echo "== TorchSharp with the default malloc"
    dotnet "$dll" "$@" || status=$?
    echo "== TorchSharp with GLIBC_TUNABLES=glibc.malloc.hugetlb=1"
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 dotnet "$dll" "$@" || status=$?
    exit $status
fi

args=()
has_filter=false
mode=full
report_only=false
for a in "$@"; do
    case $a in
        --report-only) report_only=true; continue ;;
        --filter | -f) has_filter=true ;;
        --quick) mode=quick ;;
    esac
    args+=("$a")
done
$has_filter || args+=(--filter '*')

status=0
if $report_only; then
    # Rewrite RESULTS.md from the artifacts of the last run.
    mode="earlier"
else
    "$repo/scripts/setup-test-deps.sh"
    dotnet build -c Release "$project" -nologo -v:q
    dll="$project/bin/Release/net10.0/Authoring.Benchmarks.dll"

    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    rm -rf "$artifacts"
    echo "== TorchSharp with the default malloc"
    dotnet "$dll" "${args[@]}" --artifacts "$artifacts/malloc-default" || status=$?
    echo "== TorchSharp with GLIBC_TUNABLES=glibc.malloc.hugetlb=1"
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 dotnet "$dll" "${args[@]}" --artifacts "$artifacts/malloc-hugetlb" || status=$?
    load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "before: $load_before; after: $load_after" > "$artifacts/load.txt"
fi

# Sections written by hand from other runs (the sample epochs: --sample-epoch) survive a rewrite: everything from
# the first such heading on is carried over to the end of the new file.
kept=""
if [[ -f $results ]]; then kept=$(sed -n '/^## Sample epochs against TorchSharp twins/,$p' "$results"); fi

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
    if [[ ! -s $artifacts/load.txt ]]; then
        echo "- Load average (1/5/15 min): unknown"
    elif [[ $(wc -l < "$artifacts/load.txt") -le 1 ]]; then
        echo "- Load average (1/5/15 min) $(cat "$artifacts/load.txt")"
    else
        echo "- Load average (1/5/15 min):"
        sed 's/^/    - /' "$artifacts/load.txt"
    fi
    echo "- .NET: $(dotnet --version) SDK; TorchSharp on 2 threads (torch.set_num_threads(2))"
    echo
    echo "## Ours against the better TorchSharp run"
    echo
    echo "Median times. TorchSharp's figure is the better of its default-malloc and hugetlb runs (column"
    echo "\"malloc\"); ours comes from the default run. Ratio = ours / TorchSharp (below 1: we are faster)."
    echo
    echo "| Benchmark | Params | Ours (ms) | Ours GFLOP/s | TorchSharp case | TorchSharp (ms) | TorchSharp GFLOP/s | malloc | Ours / TorchSharp |"
    echo "| --- | --- | ---: | ---: | --- | ---: | ---: | --- | ---: |"
    for f in "$artifacts"/malloc-default/results/*-flops.tsv; do
        [[ -f $f ]] || continue
        g="$artifacts/malloc-hugetlb/results/$(basename "$f")"
        awk -F'\t' '
            # Each "OursX" case is compared with the "TorchX" case of the same class and parameters
            # (OursForward with TorchForward, ...); a case without such a twin falls back to the
            # class baseline (OursGemm with TorchMatmul).
            function keep(key, name) {
                if ($5 != "NA" && (!(key in tm) || $5 + 0 < tm[key] + 0)) { tm[key] = $5; tg[key] = $7; tr[key] = run; tn[key] = name }
            }
            FNR == 1 { run = (FILENAME ~ /malloc-hugetlb/) ? "hugetlb" : "default"; next }
            $2 ~ /^Torch/ || $3 == 1 {
                if ($2 ~ /^Torch/) keep($1 SUBSEP $4 SUBSEP substr($2, 6), $2)
                if ($3 == 1) keep($1 SUBSEP $4 SUBSEP "(baseline)", $2)
                next
            }
            run == "default" { rows[++n] = $0 }
            function ms(ns) { return ns == "" || ns == "NA" ? "NA" : sprintf("%.3f", ns / 1e6) }
            function na(v) { return v == "" ? "NA" : v }
            END {
                for (i = 1; i <= n; i++) {
                    split(rows[i], r, "\t")
                    k = r[1] SUBSEP r[4] SUBSEP (r[2] ~ /^Ours/ ? substr(r[2], 5) : r[2])
                    if (!(k in tm)) k = r[1] SUBSEP r[4] SUBSEP "(baseline)"
                    ratio = (r[5] != "NA" && tm[k] != "") ? sprintf("%.2f", r[5] / tm[k]) : "NA"
                    printf "| %s.%s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r[1], r[2], r[4], ms(r[5]), na(r[7]), na(tn[k]), ms(tm[k]), na(tg[k]), na(tr[k]), ratio
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
    if [[ -n $kept ]]; then
        echo
        printf '%s\n' "$kept"
    fi
} > "$results"

echo "Wrote $results"
exit $status
