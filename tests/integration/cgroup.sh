# cgroup.sh - sourced after lib.sh by the tests of "twshim --cgroup", the
# kernel backend: root, bpftool and a cgroup v2 hierarchy, or the test is
# skipped (said on stdout).  Each test makes its own cgroups and leaves none.

BPFTOOL=$(PATH="$PATH:/usr/sbin:/sbin" command -v bpftool)
GO=$B/helpers/go/gochurn
SC=$B/helpers/static/twclient
SS=$B/helpers/static/twserver

skip() {
	echo "SKIP: $*"
	exit 0
}

[ "$(id -u)" -eq 0 ] || skip "twshim --cgroup needs root (CAP_BPF, CAP_NET_ADMIN)"
[ -n "$BPFTOOL" ] || skip "no bpftool"
CG_MOUNT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
[ -n "$CG_MOUNT" ] || skip "no cgroup v2 hierarchy mounted"
CG_OWN=$CG_MOUNT$(sed -n 's/^0:://p' /proc/self/cgroup)
CG_OWN=${CG_OWN%/}

# cg_ids FILE: the program IDs "bpftool cgroup show" listed in FILE.
cg_ids() {
	awk '$1 ~ /^[0-9]+$/ { print $1 }' "$1"
}

# assert_unloaded FILE WHAT: none of the programs listed in FILE is still
# loaded (freed a little after the last reference goes: 2 s at most).
assert_unloaded() {
	for _id in $(cg_ids "$1"); do
		for _i in $(seq 1 40); do
			"$BPFTOOL" prog show id "$_id" >/dev/null 2>&1 || break
			sleep 0.05
		done
		! "$BPFTOOL" prog show id "$_id" >/dev/null 2>&1 ||
			fail "$2: program $_id is still loaded"
	done
}

# A command run by twshim --cgroup that first writes what its cgroup has
# attached to $T/attached, then runs "$@".
cat >"$T/inside.sh" <<'EOS'
cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)$(sed -n 's/^0:://p' /proc/self/cgroup)
echo "$cg" >"$ATTACHED.path"
"$BPFTOOL" cgroup show "$cg" >"$ATTACHED"
exec "$@"
EOS
# INSIDE CMD...: as twshim --cgroup's command, writes the cgroup's path and
# what is attached to it ("bpftool cgroup show") to $T/attached, then runs CMD.
INSIDE="env ATTACHED=$T/attached BPFTOOL=$BPFTOOL sh $T/inside.sh"
