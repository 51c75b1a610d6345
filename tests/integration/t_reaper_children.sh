# A child made without the fork handlers (_Fork()) inherits copies of the
# reaper's descriptors.  It must let them go: a copy kept there would hold
# each pending socket open, and the peer would get the fallback's reset only
# when the child exits, not at the deadline.
. tests/integration/lib.sh

echo_server 127.0.0.1 7330 "$T/server.log"
bg with_shim '[client *];close = peer-first 1s then abort' \
    "$B/helpers/ownfds" fork 7330 >"$T/out" 2>&1
# The child lives until killed; wait (5 s at most) for the reset meanwhile.
for _i in $(seq 1 50); do
	grep -q . "$T/server.log" && break
	sleep 0.1
done
cp "$T/server.log" "$T/while_child_lived"
child=$(value child "$T/out")
[ -n "$child" ] && kill "$child" 2>/dev/null
cat "$T/out" "$T/while_child_lived"
assert_ge "${child:-0}" 1 "the child was made"
assert_has "$T/while_child_lived" "reset 3" "the reset came while the child still lived"
