#!/bin/sh
# redis-instr.sh LIB - the user-space instructions LIB itself executes per
# redis-benchmark -k 0 request, from callgrind: runs of 3000 and 1000
# requests over one connection at a time, the difference over 2000, so
# that start-up cancels out.  In a fresh network namespace.
set -eu
if [ "${TW_REDIS_INSIDE:-}" != 1 ]; then
	TW_REDIS_INSIDE=1 exec unshare -n "$0" "$@"
fi
lib=$1
REDIS_TMP=$(mktemp -d)
. "$(dirname "$0")/redis-ns.sh"
start_redis 0
own() {	# own N: instructions in the library's own code for N requests
	env TW_REDIS_INSIDE= LD_PRELOAD="$lib" valgrind --tool=callgrind \
	    --callgrind-out-file="$REDIS_TMP/cg.$1" redis-benchmark -p 6399 -k 0 -n "$1" -c 1 \
	    -t ping_inline -q >/dev/null 2>&1
	callgrind_annotate --threshold=100 "$REDIS_TMP/cg.$1" 2>/dev/null |
	    awk -v lib="$(basename "$lib")" 'index($0, lib) { x = $1; gsub(",", "", x); s += x } END { print s }'
}
a=$(own 1000)
b=$(own 3000)
echo $(((b - a) / 2000))
