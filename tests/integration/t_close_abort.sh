# close = abort: RST at close, no TIME_WAIT on the client; the peer sees a
# reset.  Set at close() only, never at connect(), so that a socket later
# shared (fork, exec) never carries it: a close libc does behind our back
# (fclose of an fdopen'd socket) is the kernel's plain one.  A socket left
# open at exit is reset then.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7010 "$T/server.log"
ops="sock a , connect a 127.0.0.1 7010 , write a hello\n , readline a"

"$OPS" $ops , close a >/dev/null
sleep 0.2
assert_eq "$(tw_count "dport = :7010")" 1 "bare: TIME_WAIT on the client"

with_shim '[client *];close = abort' "$OPS" $ops , opt a linger , close a >"$T/out" 2>&1
with_shim '[client *];close = abort' "$OPS" $ops >>"$T/out" 2>&1
cat "$T/out"
assert_has "$T/out" "linger: 0,0" "SO_LINGER untouched until close()"
sleep 0.2
assert_eq "$(tw_count "dport = :7010")" 1 "the close and the exit left no TIME_WAIT"
assert_eq "$(grep -c '^reset' "$T/server.log")" 2 "the server saw two resets"
with_shim '[client *];close = abort' "$OPS" $ops , fclose a >>"$T/out" 2>&1
sleep 0.2
assert_eq "$(tw_count "dport = :7010")" 2 "fclose: the kernel's plain close"
