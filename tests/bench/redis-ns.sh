# redis-ns.sh - sourced by the redis benchmarks, which run in a network
# namespace of their own: start_redis BUCKETS brings loopback up, sets
# net.ipv4.tcp_max_tw_buckets to BUCKETS ("-" leaves it be), starts a bare
# redis-server on port 6399 and waits until it answers.  It is killed, and
# $REDIS_TMP removed if set, when the script exits.
start_redis() {
	ip link set lo up
	[ "$1" = - ] || sysctl -qw net.ipv4.tcp_max_tw_buckets="$1"
	redis-server --port 6399 --save '' --appendonly no --logfile /dev/null &
	redis_pid=$!
	trap 'kill $redis_pid 2>/dev/null; wait 2>/dev/null; [ -z "${REDIS_TMP:-}" ] || rm -rf "$REDIS_TMP"' EXIT
	for _ in $(seq 1 100); do
		redis-cli -p 6399 ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "redis-server did not start" >&2
	return 1
}
