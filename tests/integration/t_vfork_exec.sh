# Every exec entry point from a vfork() child (execl, execle, execlp,
# fexecve, execveat; execv for comparison): libc's list forms go to its
# internal execve, so each needs its own hook.  The parent's sockets must
# count as shared, so that its close() leaves the child's copy alone:
# with close = graceful, a parent that shut the socket down would kill the
# child's write with SIGPIPE and the peer would see EOF with no data.
. tests/integration/lib.sh

echo_server 127.0.0.1 7095 "$T/server.log"
for mode in execl execle execlp fexecve execveat execv; do
	: >"$T/server.log"
	with_shim '[client *];close = graceful 2s' "$B/helpers/vforkexec" $mode 7095 >"$T/$mode" 2>&1
	sleep 0.2
	cat "$T/$mode" "$T/server.log"
	assert_has "$T/$mode" "$mode: child exit 0" "$mode: the child's write succeeded"
	len=$(printf 'from-%s' $mode | wc -c)
	assert_has "$T/server.log" "eof $len" "$mode: the peer got the child's text"
done
echo ok
