# Children that share the parent's memory, or copy it without the fork
# handlers, are told apart without a system call on every close:
# - a vfork() child of a vfork() child is still a child once its own child
#   has gone (the shim's vfork puts back what the flag held);
# - a clone(CLONE_VM) child is caught by process ID from then on;
# - a clone() child with a copy of the memory holds every socket, as after
#   fork(): close = abort must not reset, at the parent's close, a
#   connection the child still sends on;
# - a clone() child that shares the descriptor table (CLONE_FILES) leaves
#   the reaper's descriptors, which are its parent's too, alone;
# - a vfork() that fails returns -1 with errno, as libc's does;
# - a parent that leaves vfork() through a signal handler (siglongjmp)
#   still owns its table: its next close gets its strategy.
# The first two children close the socket while the server's answer is
# unread; the parent then reads it and closes an idle socket, which
# abort-if-idle resets.  A child taken for the owner would untrack the
# socket, and the parent's close would be a plain one (eof).
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0

# ASan's own vfork() cannot nest: that program loses its way there with or
# without twshim.
ops="vfork2_close clone_vm_close"
[ "${SANITIZER:-plain}" = asan ] && ops=clone_vm_close
for op in $ops; do
	echo_server 127.0.0.1 7081 "$T/$op.log"
	with_shim '[client *];close = abort-if-idle' "$OPS" \
	    sock a , connect a 127.0.0.1 7081 , write a "hi\n" , sleep 100 , $op a , \
	    readline a , close a >"$T/$op.out" 2>&1
	cat "$T/$op.out"
	assert_has "$T/$op.out" "$op: 0" "$op ran"
	assert_has "$T/$op.out" "readline: ok" "the parent's socket works after the child ($op)"
	sleep 0.2
	assert_has "$T/$op.log" "reset 3" "still tracked in the parent after $op: its close was the strategy's"
	kill $_pids 2>/dev/null
	wait 2>/dev/null
	_pids=""
done

echo_server 127.0.0.1 7082 "$T/copy.log"
with_shim '[client *];close = abort' env TWSHIM_STATS="$T/stats" "$OPS" \
    sock a , connect a 127.0.0.1 7082 , write a "x" , clone_copy_send a 200 4194303 , \
    close a , reap >"$T/copy.out" 2>&1
cat "$T/copy.out" "$T/stats"
assert_has "$T/copy.out" "reap: 1" "the clone() child sent everything"
sleep 0.2
assert_has "$T/copy.log" "eof 4194304" "every byte from the clone() child, then EOF"
assert_eq "$(stat_of close_shared "$T/stats")" 1 "the parent's close saw the socket as shared"

# The child signals its parent, whose handler runs as vfork() returns and
# jumps out of it; then the parent closes a socket under close = abort.
echo_server 127.0.0.1 7085 "$T/jump.log"
with_shim '[client *];close = abort' "$OPS" sock a , connect a 127.0.0.1 7085 , write a "x" , \
    vfork_longjmp , close a >"$T/jump.out" 2>&1
cat "$T/jump.out"
assert_has "$T/jump.out" "vfork_longjmp: 0" "the parent left vfork() by siglongjmp"
sleep 0.2
assert_has "$T/jump.log" "reset 1" "the parent's close after it was its strategy's"

# A peer-first close is pending when a CLONE_FILES child comes and goes;
# the peer then closes: the reaper, still whole, sees its EOF and closes
# in order.  Had the child closed the reaper's descriptors (shared), every
# pending close would have had its fallback, a reset, at once.
cat >"$T/closer.py" <<'PY'
import socket, sys, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(4)
s, _ = ls.accept()
time.sleep(0.6)
try:
    s.shutdown(socket.SHUT_WR)
    while s.recv(100):
        pass
    print("eof")
except ConnectionResetError:
    print("reset")
PY
python3 "$T/closer.py" 7084 >"$T/closer.out" 2>&1 &
cl=$!
wait_listen 7084
with_shim '[client *];close = peer-first 3s then abort' env TWSHIM_STATS="$T/stats.files" "$OPS" \
    sock a , connect a 127.0.0.1 7084 , close a , clone_files , sleep 1200 >"$T/files.out" 2>&1
wait $cl
cat "$T/files.out" "$T/closer.out" "$T/stats.files"
assert_has "$T/files.out" "clone_files: 0" "the CLONE_FILES child ran"
assert_has "$T/closer.out" "eof" "the pending close ended in order, after the peer's FIN"
assert_eq "$(stat_of peer_first_ok "$T/stats.files")" 1 "the reaper saw the peer close first"

# vfork() refused (RLIMIT_NPROC, as nobody: root is exempt): -1 and EAGAIN,
# with the library as without.  nobody may not reach the checkout.
chmod 755 "$T"
mkdir -m 755 "$T/bin"
cp "$OPS" "$LIB" "$T/bin/"
chmod 755 "$T/bin/sockops" "$T/bin/libtwshim.so"
as_nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups prlimit --nproc=1"
bare=$($as_nobody "$T/bin/sockops" vfork_errno)
shimmed=$(env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$T/bin/libtwshim.so" \
    TWSHIM_POLICY_TEXT='[client *];close = abort' $as_nobody "$T/bin/sockops" vfork_errno)
echo "bare: $bare; twshim: $shimmed"
assert_eq "$bare" "vfork: -1 errno $(python3 -c 'import errno; print(errno.EAGAIN)')" "the limit refuses vfork() bare"
assert_eq "$shimmed" "$bare" "vfork() refused under twshim"
assert_eq "$($T/bin/sockops vfork_errno)" "vfork: child errno 0" "vfork() as root"
