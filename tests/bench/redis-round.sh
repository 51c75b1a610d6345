#!/bin/sh
# redis-round.sh REQUESTS TW_BUCKETS ENV... - requests per second of one
# run of redis-benchmark -k 0 (a new connection for every request) under
# ENV, against a redis-server of its own (not under ENV) in a fresh
# network namespace, so that no TIME_WAIT of an earlier run is in the way.
# TW_BUCKETS: net.ipv4.tcp_max_tw_buckets there ("-" leaves it be; 0 keeps
# no TIME_WAIT at all, so that a bare run does not pay for its own).
set -eu
if [ "${TW_REDIS_INSIDE:-}" != 1 ]; then
	TW_REDIS_INSIDE=1 exec unshare -n "$0" "$@"
fi
n=$1
buckets=$2
shift 2
. "$(dirname "$0")/redis-ns.sh"
start_redis "$buckets"
env TW_REDIS_INSIDE= "$@" redis-benchmark -p 6399 -k 0 -n "$n" -c 50 -t ping_inline --csv 2>/dev/null |
    awk -F'"' 'NR == 2 { print int($4) }'
