# A bad policy given to the library directly (no launcher to stop it):
# with on_error = passthrough (the default) the program runs unchanged,
# its exit status kept, after one error line; with on_error = exit it
# exits 125 before main.  Nothing of a bad policy is applied.
. tests/integration/lib.sh

echo_server 127.0.0.1 7090 "$T/server.log"
with_shim '[client *];close = abort;nodelay = perhaps' "$OPS" \
    sock a , connect a 127.0.0.1 7090 , opt a linger , opt a nodelay , close a >"$T/out" 2>"$T/err"
cat "$T/out" "$T/err"
assert_has "$T/out" "linger: 0,0" "nothing of the bad policy applied (close = abort was valid)"
assert_eq "$(grep -c . "$T/err")" 1 "one error line"
assert_has "$T/err" "twshim: " "prefixed"
assert_has "$T/err" "<inline>:3:11:" "with the position"
assert_has "$T/err" "running the program without twshim" "and what happens next"

with_shim '[client *' sh -c 'exit 3' 2>/dev/null
assert_eq $? 3 "the program's own exit status under a bad policy"

with_shim 'on_error = exit;[client *];close = sometimes' sh -c 'echo main ran' >"$T/out2" 2>"$T/err2"
assert_eq $? 125 "on_error = exit: status 125"
[ -s "$T/out2" ] && fail "on_error = exit must stop before main"
assert_has "$T/err2" "exiting with status 125" "and says so"

env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY=/nonexistent.conf sh -c 'exit 0' 2>"$T/err3"
assert_eq $? 0 "a missing policy file: the program still runs"
assert_has "$T/err3" "cannot read /nonexistent.conf" "and the reason is given"
