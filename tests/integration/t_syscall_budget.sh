# System calls a connection costs under twshim, counted with strace -f -c
# (threads included) on legacy_client: (calls for 300 connections - calls
# for 100) / 200, so start-up cancels out.  Under the built-in default a
# request/response connection costs at most 2 more than bare: the TCP_INFO
# read, which tells whether the peer answered and whether the connection
# has TCP timestamps (without them TIME_WAIT stays), and TCP_LINGER2 = -1.
# Seeing the answer come in (read()) no longer spares the TCP_INFO read:
# only that read tells the timestamps.  close = normal costs none.  No
# time is measured: the counts are exact.
. tests/integration/lib.sh

"$EX/legacy_server" 7091 >/dev/null &
_pids="$_pids $!"
wait_listen 7091

client=$EX/legacy_client
calls() {	# calls N ENV...: system calls of N connections
	n=$1
	shift
	env "$@" strace -f -c -o "$T/strace" $client -q -n "$n" 127.0.0.1 7091 ||
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
assert_le "$((default - bare))" 2 "system calls the default policy adds per connection (TCP_INFO, TCP_LINGER2)"
assert_eq "$normal" "$bare" "system calls close = normal adds per connection"

# The same client reading with recv(); and a client built with
# _FORTIFY_SOURCE, as distributions build, whose read() and recv() of a
# length known only at run time are __read_chk() and __recv_chk(): the
# same count.
client="$EX/legacy_client -r"
recv_default=$(per_conn "$pre")
cat >"$T/fortified.c" <<'C'
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(7091) };
	size_t room = (size_t)atoi(argv[2]);	/* unknown to the compiler */
	char buf[256];
	int n = atoi(argv[1]), use_recv = argc > 3;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || write(fd, "ping\n", 5) != 5)
			return 1;
		if ((use_recv ? recv(fd, buf, room, 0) : read(fd, buf, room)) <= 0)
			return 1;
		close(fd);
	}
	return 0;
}
C
cc -O2 -D_FORTIFY_SOURCE=2 -o "$T/fortified" "$T/fortified.c" || fail "cannot build the fortified client"
nm "$T/fortified" | grep -q __read_chk || fail "the fortified client does not call __read_chk"
nm "$T/fortified" | grep -q __recv_chk || fail "the fortified client does not call __recv_chk"
fcalls() {	# fcalls N [recv] ENV...
	n=$1
	shift
	r=
	[ "$1" = recv ] && { r=recv; shift; }
	env "$@" strace -f -c -o "$T/strace" "$T/fortified" "$n" 256 $r || fail "fortified client failed"
	awk '$NF == "total" { print $4 }' "$T/strace"
}
fper_conn() {
	echo $(( ($(fcalls 300 "$@") - $(fcalls 100 "$@")) / 200 ))
}
f_bare=$(fper_conn X=1)
f_read=$(fper_conn "$pre")
f_recv=$(fper_conn recv "$pre")
echo "per connection, default policy: legacy_client -r $recv_default;" \
    "fortified: bare $f_bare, __read_chk $f_read, __recv_chk $f_recv"
assert_eq "$recv_default" "$default" "answer read with recv()"
assert_le "$((f_read - f_bare))" 2 "answer read with __read_chk(): TCP_INFO and TCP_LINGER2"
assert_le "$((f_recv - f_bare))" 2 "answer read with __recv_chk(): TCP_INFO and TCP_LINGER2"
