# Signal handlers that dup and close a tracked socket every 50 us while the
# program's main loop does socket/dup2/close: no deadlock, no abort.
. tests/integration/lib.sh

with_shim '[client *];close = abort-if-idle' timeout 20 "$B/helpers/sigstorm" 3 >"$T/out" 2>&1
rc=$?
cat "$T/out"
assert_eq "$rc" 0 "sigstorm ended normally"
