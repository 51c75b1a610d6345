# System calls a connection costs under twshim, counted with strace -f -c
# (threads included) on legacy_client: (calls for 300 connections - calls
# for 100) / 200, so start-up cancels out.  Under the built-in default a
# request/response connection costs at most 2 more than bare (the
# TCP_INFO read that tells whether the peer answered, and TCP_LINGER2 =
# -1); close = normal costs none.  No time is measured: the counts are
# exact.
. tests/integration/lib.sh

"$EX/legacy_server" 7091 >/dev/null &
_pids="$_pids $!"
wait_listen 7091

calls() {	# calls N ENV...: system calls of N connections
	n=$1
	shift
	env "$@" strace -f -c -o "$T/strace" "$EX/legacy_client" -q -n "$n" 127.0.0.1 7091 ||
	    fail "legacy_client failed: $*"
	awk '$NF == "total" { print $4 }' "$T/strace"
}
per_conn() {
	a=$(calls 100 "$@")
	b=$(calls 300 "$@")
	echo $(((b - a) / 200))
}
pre="LD_PRELOAD=${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB"
bare=$(per_conn X=1)
default=$(per_conn "$pre")
normal=$(per_conn "$pre" "TWSHIM_POLICY_TEXT=[client *];close = normal")
echo "per connection: bare $bare, default $default, close = normal $normal"
assert_ge "$bare" 4 "a connection's own calls are counted"
assert_le "$((default - bare))" 2 "system calls the default policy adds per connection"
assert_eq "$normal" "$bare" "system calls close = normal adds per connection"
