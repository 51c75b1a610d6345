# lib.sh - sourced by each integration test, which runs in a network
# namespace of its own (see tests/run-all.sh): loopback only, sysctls ours.
#
# Provided: $B (build dir), $LIB (the library to preload), $TW (launcher),
# $OPS (tests/helpers/sockops), $EX (examples), and the functions below.

set -u

B=$(realpath "${B:?}")
LIB=$(realpath "${LIB:-$B/libtwshim.so}")
TW=$B/twshim
OPS=$B/helpers/sockops
EX=$B/examples
T=$(mktemp -d /tmp/twshim-test.XXXXXX)
_pids=""

cleanup() {
	for p in $_pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# with_shim POLICY_TEXT CMD...: run CMD with the library and an inline policy.
with_shim() {
	_pol=$1
	shift
	env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT="$_pol" "$@"
}

# bg CMD...: start in the background, killed at exit.
bg() {
	"$@" &
	_pids="$_pids $!"
}

# wait_listen PORT: until something listens there (5 s at most).
wait_listen() {
	for _i in $(seq 1 100); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	fail "nothing listens on port $1"
}

# tw_count [FILTER]: TIME_WAIT sockets, e.g. tw_count "sport = :9000".
tw_count() {
	ss -Htan state time-wait ${1:+"$1"} | wc -l
}

assert_eq() {
	[ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

assert_ge() {
	[ "$1" -ge "$2" ] || fail "$3: expected at least $2, got $1"
}

assert_le() {
	[ "$1" -le "$2" ] || fail "$3: expected at most $2, got $1"
}

# assert_has FILE TEXT WHAT: FILE has a line containing TEXT.
assert_has() {
	grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$3: no '$2' in $(basename "$1")"; }
}

assert_lacks() {
	! grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$3: unexpected '$2' in $(basename "$1")"; }
}

# nginx_conf PORT: $T/nginx.conf, an nginx in the foreground without a
# master process, serving $T/www on 127.0.0.1:PORT with gzip also over
# HTTP/1.0 (so that a body ends at the server's close), its files in $T/ngx.
nginx_conf() {
	mkdir -p "$T/www" "$T/ngx"
	cat >"$T/nginx.conf" <<NGX
daemon off;
master_process off;
user root;
error_log $T/ngx/error.log;
pid $T/ngx/pid;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/ngx; proxy_temp_path $T/ngx; fastcgi_temp_path $T/ngx;
	uwsgi_temp_path $T/ngx; scgi_temp_path $T/ngx;
	gzip on; gzip_http_version 1.0; gzip_min_length 1; gzip_types text/plain;
	server { listen 127.0.0.1:$1; root $T/www; }
}
NGX
}

# value KEY FILE: the number after "KEY: " in sockops output.
value() {
	sed -n "s/^$1: \\(-\\?[0-9]*\\).*/\\1/p" "$2" | tail -n 1
}

# stat_of KEY FILE: a counter from a TWSHIM_STATS file.
stat_of() {
	sed -n "s/^$1=//p" "$2"
}

# A peer that answers each line and keeps the connection until the other
# side closes: python3, no one's code but the standard library's.
echo_server() {
	bg python3 -c '
import socket, sys, threading
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(128)
log = open(sys.argv[3], "a", buffering=1)
def serve(c):
    got = 0
    try:
        while True:
            b = c.recv(65536)
            if not b: log.write("eof %d\n" % got); break
            got += len(b)
            if b"\n" in b: c.sendall(b"ok\n")
    except ConnectionResetError: log.write("reset %d\n" % got)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$1" "$2" "$3"
	wait_listen "$2"
}
