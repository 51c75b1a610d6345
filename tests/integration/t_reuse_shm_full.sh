# The reuse quarantine's shared table lives in /dev/shm.  On a full
# /dev/shm (a container's 64 MB, say) it must not be mapped with pages
# that have no memory behind them: the first stamp would raise SIGBUS in
# the program.  Here /dev/shm is a 128 kB tmpfs, filled, in a mount
# namespace of the test's own: the client runs to the end, and the
# quarantine falls back to the process's own table.
. tests/integration/lib.sh

bg "$EX/legacy_server" 7390 >/dev/null
wait_listen 7390
unshare -m sh -c '
	mount -t tmpfs -o size=128k tmpfs /dev/shm || exit 99
	dd if=/dev/zero of=/dev/shm/fill bs=4k count=100 2>/dev/null
	env LD_PRELOAD="$1" TWSHIM_POLICY_TEXT="[client *];close = fin-then-reset;local_ports = 21000-21099" \
	    "$2" -n 20 127.0.0.1 7390
	echo "status $?"
	ls -l /dev/shm' sh "${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" "$EX/legacy_client" >"$T/out" 2>&1
cat "$T/out"
assert_has "$T/out" "status 0" "the client's status on a full /dev/shm"
assert_has "$T/out" "20 of 20 requests completed" "every request"
echo ok
