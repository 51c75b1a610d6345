# Secure execution: a setuid program (and one with file capabilities) run
# by an ordinary user.  The loader ignores LD_PRELOAD for it, but
# /etc/ld.so.preload still loads the library; the library must then ignore
# every TWSHIM_ variable and change nothing.  /etc is replaced only inside
# a private mount namespace, so nothing outside the test sees it.
. tests/integration/lib.sh

[ "${SANITIZER:-plain}" = asan ] && { echo "skip: ld.so.preload under ASan"; exit 0; }
command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed"
echo_server 127.0.0.1 7064 "$T/server.log"
mkdir -p "$T/etc" "$T/bin"
cp -a /etc/. "$T/etc/"
cp "$LIB" "$T/bin/libtwshim.so"
echo "$T/bin/libtwshim.so" >"$T/etc/ld.so.preload"
cp "$OPS" "$T/bin/ops-plain"
cp "$OPS" "$T/bin/ops-setuid"
chmod 4755 "$T/bin/ops-setuid"
cp "$OPS" "$T/bin/ops-cap"
setcap cap_net_bind_service+ep "$T/bin/ops-cap" || fail "setcap"
chmod 755 "$T" "$T/bin"
chmod 777 "$T"

run_as_nobody() {	# run_as_nobody PROGRAM: connect, read back TCP_NODELAY
	unshare -m sh -c 'mount --bind "$0/etc" /etc && exec setpriv --reuid=65534 --regid=65534 --clear-groups env TWSHIM_POLICY_TEXT="[client *];nodelay = yes" TWSHIM_STATS="$0/stats.%p" "$1" sock a , connect a 127.0.0.1 7064 , opt a nodelay , close a' "$T" "$1"
}
run_as_nobody "$T/bin/ops-plain" >"$T/plain" 2>&1
run_as_nobody "$T/bin/ops-setuid" >"$T/setuid" 2>&1
run_as_nobody "$T/bin/ops-cap" >"$T/cap" 2>&1
cat "$T/plain" "$T/setuid" "$T/cap"
assert_has "$T/plain" "nodelay: 1" "control: the preload works for an ordinary program"
assert_has "$T/setuid" "nodelay: 0" "setuid program: nothing changed"
assert_has "$T/cap" "nodelay: 0" "file-capability program: nothing changed"
assert_eq "$(ls "$T"/stats.* | wc -l)" 1 "only the ordinary program wrote stats"
