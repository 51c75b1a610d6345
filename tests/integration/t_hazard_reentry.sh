# Hooks re-entered from below and around: a malloc that makes sockets
# (as allocators that open files do), jemalloc in front, fork() while
# another thread holds the shim's lock, and threads cancelled inside hooks.
. tests/integration/lib.sh

# 1. A malloc interposer calling socket()+close() from inside malloc.
with_shim '[client *];close = abort-if-idle' env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB $B/helpers/libmallocsock.so" \
    TWSHIM_POLICY_TEXT='[client *];close = abort-if-idle' timeout 30 "$B/helpers/storm" 2 20000 >"$T/m" 2>&1
rc=$?
cat "$T/m"
assert_eq "$rc" 0 "storm with a socket-making malloc"

# 2. jemalloc first in LD_PRELOAD.
JE=$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null)
if [ -n "$JE" ] && [ "${SANITIZER:-plain}" != asan ]; then
	env LD_PRELOAD="$JE $LIB" TWSHIM_POLICY_TEXT='[client *];close = abort-if-idle' \
	    timeout 30 "$B/helpers/storm" 2 20000 >"$T/j" 2>&1
	rc=$?
	cat "$T/j"
	assert_eq "$rc" 0 "storm under jemalloc"
fi

# 3. 2000 forks while a thread hammers the table; children close and exit.
n=2000
[ "${SANITIZER:-plain}" = asan ] && n=300
with_shim '[client *];close = graceful' timeout 60 "$B/helpers/forkstorm" $n >"$T/f" 2>&1
rc=$?
cat "$T/f"
assert_eq "$rc" 0 "every child exited (no child stuck on the shim's lock)"

# 4. pthread_cancel inside accept() and connect().  (Under ASan the forced
#    unwind leaves the instrumented frames' stack poisoned and ASan trips on
#    it when the thread exits, with or without any lock involved; the plain
#    pass covers it.)
[ "${SANITIZER:-plain}" = asan ] && exit 0
with_shim '[client *];close = abort-if-idle' timeout 20 "$B/helpers/cancel" >"$T/c" 2>&1
rc=$?
cat "$T/c"
assert_eq "$rc" 0 "cancelled threads left the shim usable"

# 5. Stopped in the middle of a close the reaper takes over: a signal
#    handler that calls exit(), and pthread_cancel(); either way the
#    process must finish (a lock held by the interrupted thread once hung
#    one run in four).
hangs=0
for i in $(seq 1 40); do
	with_shim '[client *];close = peer-first 1s' timeout 5 "$B/helpers/exitsig" exit \
	    >/dev/null 2>&1
	[ $? -eq 124 ] && hangs=$((hangs + 1))
done
assert_eq "$hangs" 0 "exit() from a signal handler: runs that hung"
with_shim '[client *];close = peer-first 1s' timeout 20 "$B/helpers/exitsig" cancel >"$T/xc" 2>&1
rc=$?
cat "$T/xc"
assert_eq "$rc" 0 "cancelled while closing: the process finished"
# A signal handler that forks while the program closes sockets through the
# reaper: each child goes on with the program's loop and exits; none may
# hang on a lock held when it was made.  (A fork from inside the shim's
# short locked sections is rare: the hang this guards against was seen in
# review, and these runs may not hit that window.)
with_shim '[client *];close = graceful 1s' timeout 30 "$B/helpers/exitsig" fork >"$T/xf" 2>&1
rc=$?
cat "$T/xf"
assert_eq "$rc" 0 "children forked in a signal handler all exited"
assert_has "$T/xf" " 0 hung" "none hung"
