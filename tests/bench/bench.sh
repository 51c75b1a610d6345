#!/bin/sh
# bench.sh BUILD - what twshim costs, each figure against its comparison,
# measured in one run.  Instruction counts come from callgrind (repeatable
# on a noisy machine); rates are medians of interleaved rounds.
set -eu
B=${1:-build}
B=$(cd "$B" && pwd)
if [ "$(id -u)" -eq 0 ]; then NETNS="unshare -n"; else NETNS="unshare -rn"; fi
exec $NETNS sh "$(dirname "$0")/bench-inner.sh" "$B"
