#!/usr/bin/env bash
# The release build of the fedgate CLI: what `make release` and the benchmarks run.
#
#   scripts/build/release.sh [SCRATCH_PATH]      (default .build; binary in SCRATCH_PATH/release/fedgate)
#
# Beyond `swift build -c release`:
# - the Swift runtime and Foundation are linked statically (--static-swift-stdlib): no loader
#   work over a dozen Swift libraries at start, and unused Foundation code is left out;
# - lld links, with packed relative relocations (-z pack-relative-relocs, glibc >= 2.36) and no
#   exported dynamic symbol table (the runtime's backtrace set-up would read all of it);
# - every function gets its own section (-function-sections, -ffunction-sections) and lld places
#   them in the order of scripts/build/fedgate.order: the functions start-up and the token path
#   run, first and together. The kernel maps file pages in 64 KiB blocks around each fault, so
#   start-up code scattered over the 33 MiB text would make most of it resident; grouped, it is a
#   few MiB (docs/benchmarks.md, "Memory"). Symbols the file names that no longer exist are
#   ignored; scripts/build/order-file.sh regenerates it.
#
# NIO's event loops still run Swift's tasks in this static binary (Sources/fedgate/EventLoopExecutor.swift).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCRATCH="${1:-$ROOT/.build}"
ORDER="${FEDGATE_ORDER_FILE-$ROOT/scripts/build/fedgate.order}"

flags=(
    -c release --product fedgate --scratch-path "$SCRATCH"
    --static-swift-stdlib
    -Xswiftc -use-ld=lld
    -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
    -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
)
if [ -n "$ORDER" ]; then
    flags+=(-Xlinker "--symbol-ordering-file=$ORDER" -Xlinker --no-warn-symbol-ordering)
fi
cd "$ROOT"
exec swift build "${flags[@]}"
