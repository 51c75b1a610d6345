# A library constructor that runs before ours makes a socket, sets an
# option and dups it.  The shim must survive being called before it is
# initialised, and still apply the policy when main() later connects.
. tests/integration/lib.sh

echo_server 127.0.0.1 7005 "$T/server.log"
sysctl -qw net.ipv4.tcp_tw_reuse=0
"$B/helpers/ctorprog" 127.0.0.1 7005 >"$T/bare" 2>&1
assert_has "$T/bare" "answered ok" "bare run"
sleep 0.2
assert_eq "$(tw_count "dport = :7005")" 1 "bare: the client keeps TIME_WAIT"
with_shim '[client *];close = abort-if-idle' env TWSHIM_STATS="$T/stats" \
    "$B/helpers/ctorprog" 127.0.0.1 7005 >"$T/out" 2>&1
cat "$T/out" "$T/stats"
assert_has "$T/out" "answered ok" "shimmed run"
assert_ge "$(stat_of sockets_before_init "$T/stats")" 1 "the early socket came before our constructor"
assert_eq "$(stat_of close_abort_if_idle "$T/stats")" 1 "the early socket got its strategy"
sleep 0.2
assert_eq "$(tw_count "dport = :7005")" 1 "no TIME_WAIT from the shimmed run"
