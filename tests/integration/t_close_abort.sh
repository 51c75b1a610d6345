# close = abort: RST at close, no TIME_WAIT on the client; the peer sees a
# reset.  Also set at connect() time, so a close libc does behind our back
# (fclose of an fdopen'd socket) aborts too.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7010 "$T/server.log"
ops="sock a , connect a 127.0.0.1 7010 , write a hello\n , readline a"

"$OPS" $ops , close a >/dev/null
sleep 0.2
assert_eq "$(tw_count "dport = :7010")" 1 "bare: TIME_WAIT on the client"

with_shim '[client *];close = abort' "$OPS" $ops , opt a linger , close a >"$T/out" 2>&1
with_shim '[client *];close = abort' "$OPS" $ops , fclose a >>"$T/out" 2>&1
cat "$T/out"
assert_has "$T/out" "linger: 1,0" "SO_LINGER {1,0} set at connect"
sleep 0.2
assert_eq "$(tw_count "dport = :7010")" 1 "shimmed closes left no TIME_WAIT"
assert_eq "$(grep -c '^reset' "$T/server.log")" 2 "the server saw two resets"
