# close_range() and closefrom() over tracked sockets close each one through
# the shim, with its strategy: abort-if-idle leaves no TIME_WAIT behind.
# Without the hooks the kernel closes them plainly and TIME_WAIT stays.
. tests/integration/lib.sh

echo_server 127.0.0.1 7003 "$T/server.log"
sysctl -qw net.ipv4.tcp_tw_reuse=0
ops="sock a , connect a 127.0.0.1 7003 , write a x\n , readline a ,
     sock b , connect b 127.0.0.1 7003 , write b x\n , readline b ,
     sock c , connect c 127.0.0.1 7003 , write c x\n , readline c"

# Bare: the three client sockets end in TIME_WAIT.
"$OPS" $ops , close_range 3 max >"$T/bare" 2>&1
sleep 0.2
bare=$(tw_count "dport = :7003")
assert_eq "$bare" 3 "bare close_range leaves TIME_WAIT"

with_shim '[client *];close = abort-if-idle' "$OPS" $ops , close_range 3 max >"$T/shim1" 2>&1
with_shim '[client *];close = abort-if-idle' "$OPS" $ops , closefrom 3 >"$T/shim2" 2>&1
cat "$T/shim1" "$T/shim2"
assert_has "$T/shim1" "close_range: 0" "close_range succeeded"
assert_has "$T/shim2" "closefrom: 0" "closefrom ran"
sleep 0.2
assert_eq "$(tw_count "dport = :7003")" "$bare" "no new TIME_WAIT from the shimmed runs"
assert_eq "$(grep -c '^reset' "$T/server.log")" 6 "each shimmed socket was aborted"

# CLOSE_RANGE_CLOEXEC marks, it does not close: the socket goes on working.
with_shim '[client *];close = abort-if-idle' "$OPS" sock a , connect a 127.0.0.1 7003 , \
    cloexec_range 3 max , write a "still here\n" , readline a , close a >"$T/cloexec" 2>&1
cat "$T/cloexec"
assert_has "$T/cloexec" "cloexec_range: 0" "CLOSE_RANGE_CLOEXEC succeeded"
assert_has "$T/cloexec" "readline: ok" "and the socket still works"

# closefrom(3) in a program whose policy waits (the reaper's descriptors
# exist from start-up, above the program's): they must survive it, and the
# graceful close after it still finish on the reaper.
with_shim '[client *];close = graceful 2s' env TWSHIM_STATS="$T/reaper" "$OPS" \
    closefrom 3 , sock a , connect a 127.0.0.1 7003 , write a "x\n" , readline a , \
    close a , sleep 300 >"$T/reaper.out" 2>&1
cat "$T/reaper.out" "$T/reaper"
assert_eq "$(stat_of close_graceful "$T/reaper")" 1 "the close was graceful"
assert_eq "$(stat_of graceful_eof "$T/reaper")" 1 "and the reaper saw it through after closefrom"
