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
out=$(mktemp -d)
ip link set lo up
sysctl -qw net.ipv4.tcp_max_tw_buckets=0
redis-server --port 6399 --save '' --appendonly no --logfile /dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 1 100); do
	redis-cli -p 6399 ping >/dev/null 2>&1 && break
	sleep 0.05
done
own() {	# own N: instructions in the library's own code for N requests
	env TW_REDIS_INSIDE= LD_PRELOAD="$lib" valgrind --tool=callgrind \
	    --callgrind-out-file="$out/cg.$1" redis-benchmark -p 6399 -k 0 -n "$1" -c 1 \
	    -t ping_inline -q >/dev/null 2>&1
	callgrind_annotate --threshold=100 "$out/cg.$1" 2>/dev/null |
	    awk -v lib="$(basename "$lib")" 'index($0, lib) { x = $1; gsub(",", "", x); s += x } END { print s }'
}
a=$(own 1000)
b=$(own 3000)
echo $(((b - a) / 2000))
