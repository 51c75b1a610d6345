# A child that shares the parent's memory (vfork, clone with CLONE_VM)
# has descriptors of its own, but the parent's table: a socket it makes,
# connects or sets options on must not land in that table.  Here the
# child closes its copy of the parent's socket, makes one of its own on
# the same number, connects it and sets SO_LINGER on it.  The parent's
# socket must keep its entry: the parent reads its answer and closes an
# idle socket, which abort-if-idle resets.  Taken over by the child's
# socket, the entry would have no strategy (a plain close: eof), or the
# program's own SO_LINGER.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
ops="vfork_reuse clone_vm_reuse"
for op in $ops; do
	echo_server 127.0.0.1 7360 "$T/$op.log"
	with_shim '[client *];close = abort-if-idle' "$OPS" \
	    sock a , connect a 127.0.0.1 7360 , write a "hi\n" , sleep 100 , $op a 7360 , \
	    readline a , close a >"$T/$op.out" 2>&1
	sleep 0.3
	cat "$T/$op.out" "$T/$op.log"
	assert_has "$T/$op.out" "$op: 0" "$op: the child made, connected and set its socket"
	assert_has "$T/$op.out" "readline: ok" "the parent's socket works after the child ($op)"
	assert_has "$T/$op.log" "reset 3" "after $op the parent's close was still the strategy's"
	kill $_pids 2>/dev/null
	wait 2>/dev/null
	_pids=""
done
