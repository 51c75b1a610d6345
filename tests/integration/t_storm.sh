# 4 threads x 10^5 socket/dup/pipe/dup2/close under the preloaded library:
# no crash, no failed call, no descriptor or table entry left behind.
. tests/integration/lib.sh

iters=100000
[ "${SANITIZER:-plain}" = asan ] && iters=20000
with_shim '[client *];close = abort-if-idle' env TWSHIM_STATS="$T/stats" \
    "$B/helpers/storm" 4 $iters >"$T/out" 2>&1
rc=$?
cat "$T/out"
assert_eq "$rc" 0 "storm exit status"
assert_eq "$(stat_of tracked_at_exit "$T/stats")" 0 "table empty at exit"
assert_eq "$(stat_of sockets_tracked "$T/stats")" $((4 * iters)) "every socket was tracked"
