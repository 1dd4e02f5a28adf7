#!/usr/bin/env bash
# Fuzzes the generator and the analyzers: every sample and test model mutated at random (token deletions and
# swaps, truncations, duplicated lines, numbers replaced by extremes, renamed layers), each mutant compiled
# in-process by the generator (with a cancellation after a random delay) and the analyzers. Prints the counts
# per outcome and every failure in full (seed, index, mutation, the mutant's source).
#   scripts/fuzz.sh [--count N (10000)] [--seed S (1)] [--first I] [--out DIR] [--list] [--parallel P] [--sweep]
# A failure is reproduced with: scripts/fuzz.sh --seed S --first INDEX --count 1
# --sweep replaces every number of every model by each extreme in turn (about 5,200 mutants) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build tests/Authoring.Fuzz.Tests -c Release -v quiet -nologo >/dev/null
exec dotnet tests/Authoring.Fuzz.Tests/bin/Release/net10.0/Authoring.Fuzz.Tests.dll "$@"
