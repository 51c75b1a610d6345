# twshim --systemd UNIT [-p POLICY] [--write]: the drop-in names the library
# this launcher preloads, and that library exists: in the build tree, after
# make install into a PREFIX, and (t_deb.sh) in the Debian package.
# systemd-analyze verify accepts a unit with it; its Environment= lines,
# run as systemd would run the service, load the library; its
# ExecStartPre= lines stop the service when the library is missing or the
# policy has an error; --write installs it (in a private mount namespace
# here, over a scratch /etc/systemd/system).
. tests/integration/lib.sh

if [ "${SANITIZER:-plain}" = asan ]; then
	echo "skipped: the launcher alone, tested in the plain pass"
	exit 0
fi

# Environment= values as the service gets them ('%%' is systemd's '%').
unit_env() {	# unit_env DROPIN: NAME=VALUE lines
	sed -n 's/^Environment=//p' "$1" | sed 's/%%/%/g'
}
# run_like_systemd DROPIN CMD...: CMD with the drop-in's environment.
run_like_systemd() {
	_d=$1
	shift
	env -i PATH=/usr/bin:/bin $(unit_env "$_d") "$@"
}

mkdir -p "$T/etc"
printf '[client *]\nclose = fin-then-reset\n' >"$T/etc/my.conf"
"$TW" --systemd myservice -p "$T/etc/my.conf" >"$T/dropin" 2>"$T/steps" || fail "--systemd"
cat "$T/dropin" "$T/steps"
lib=$(sed -n 's/^Environment=LD_PRELOAD=//p' "$T/dropin")
assert_eq "$lib" "$(realpath "$B/libtwshim.so")" "the build tree's launcher names the build tree's library"
assert_has "$T/dropin" "Environment=TWSHIM_POLICY=$T/etc/my.conf" "the policy, by absolute path"
assert_has "$T/dropin" "Environment=TWSHIM_STATS=/run/twshim-myservice" "stats: the live directory"
assert_has "$T/dropin" "RuntimeDirectory=twshim-myservice" "a runtime directory for them"
assert_has "$T/dropin" "RuntimeDirectoryPreserve=yes" "kept after a stop"
assert_has "$T/dropin" "ExecStartPre=/usr/bin/env -u LD_PRELOAD /usr/bin/test -r $lib" \
    "a missing library stops the start"
assert_has "$T/dropin" "ExecStartPre=/usr/bin/env -u LD_PRELOAD $(realpath "$TW") --check $T/etc/my.conf" \
    "the policy checked first"
assert_has "$T/steps" "systemctl daemon-reload && systemctl restart myservice.service" "the next steps"

# systemd reads it: a unit with the drop-in verifies clean; a bad key added
# is reported from the drop-in's file (so the drop-in is the one read).
if command -v systemd-analyze >/dev/null; then
	U=$T/units
	mkdir -p "$U/myservice.service.d"
	printf '[Unit]\nDescription=twshim test\n[Service]\nExecStart=/bin/sleep 1\n' >"$U/myservice.service"
	cp "$T/dropin" "$U/myservice.service.d/twshim.conf"
	SYSTEMD_UNIT_PATH="$U:" systemd-analyze verify "$U/myservice.service" >"$T/verify" 2>&1
	rc=$?
	cat "$T/verify"
	assert_eq "$rc" 0 "systemd-analyze verify"
	assert_eq "$(wc -c <"$T/verify")" 0 "no warning"
	echo "Bogus=1" >>"$U/myservice.service.d/twshim.conf"
	SYSTEMD_UNIT_PATH="$U:" systemd-analyze verify "$U/myservice.service" >"$T/verify2" 2>&1
	assert_has "$T/verify2" "myservice.service.d/twshim.conf" "the drop-in is the file systemd read"
else
	fail "systemd-analyze is not installed (make deps)"
fi

# Run as systemd would: every ExecStartPre= passes, and the service's
# program has the library loaded.
grep '^ExecStartPre=' "$T/dropin" | sed 's/^ExecStartPre=//' >"$T/pre"
while read -r cmd; do
	run_like_systemd "$T/dropin" $cmd >/dev/null || fail "ExecStartPre=$cmd failed"
done <"$T/pre"
run_like_systemd "$T/dropin" cat /proc/self/maps >"$T/maps"
assert_has "$T/maps" "$lib" "the service runs with the library loaded"

# A policy broken after the drop-in was written: its ExecStartPre fails.
echo "close = sometimes" >>"$T/etc/my.conf"
check=$(sed -n 2p "$T/pre")
run_like_systemd "$T/dropin" $check >"$T/badcheck" 2>&1
assert_eq "$?" 1 "a bad policy fails ExecStartPre"
cat "$T/badcheck"
# And --systemd refuses it from the start.
"$TW" --systemd myservice -p "$T/etc/my.conf" >/dev/null 2>"$T/refused"
assert_eq "$?" 125 "--systemd with a bad policy"
assert_has "$T/refused" "my.conf:3" "the error, with its line"
# A library gone: the first ExecStartPre fails.
sed "s#$lib#$T/gone/libtwshim.so#g" "$T/dropin" >"$T/dropin.gone"
run_like_systemd "$T/dropin.gone" $(sed -n 's/^ExecStartPre=//p' "$T/dropin.gone" | head -n 1) 2>/dev/null
assert_eq "$?" 1 "a missing library fails ExecStartPre"

# Without -p: the built-in default, no check line; names are checked.
"$TW" --systemd web.service >"$T/plain" 2>/dev/null || fail "--systemd without -p"
assert_lacks "$T/plain" "Environment=TWSHIM_POLICY" "no policy: the built-in default"
assert_eq "$(grep -c '^ExecStartPre=' "$T/plain")" 1 "only the library's check"
"$TW" --systemd '../etc/passwd' >/dev/null 2>&1
assert_eq "$?" 125 "a unit name with a slash is refused"

# make install into a PREFIX: the installed launcher names the installed
# library, which is there.
make --no-print-directory -s B="$T/b" PREFIX="$T/prefix" install >"$T/install.log" 2>&1 ||
	{ tail "$T/install.log"; fail "make install"; }
"$T/prefix/bin/twshim" --systemd myservice >"$T/installed" 2>/dev/null
ilib=$(sed -n 's/^Environment=LD_PRELOAD=//p' "$T/installed")
echo "installed: LD_PRELOAD=$ilib"
assert_eq "$ilib" "$T/prefix/lib/libtwshim.so" "the installed library"
[ -f "$ilib" ] || fail "$ilib does not exist"
cmp -s "$ilib" "$T/b/libtwshim.so" || fail "$ilib is not the library built"

# The example in examples/policies is what a PREFIX=/usr/local install
# prints for it (the lines that set something, in order).
make --no-print-directory -s B="$T/b" DESTDIR="$T/dest" PREFIX=/usr/local install >>"$T/install.log" 2>&1 ||
	{ tail "$T/install.log"; fail "make install DESTDIR"; }
mkdir -p "$T/dest/etc/twshim"
cp examples/policies/web-server.conf "$T/dest/etc/twshim/myservice.conf"
"$T/dest/usr/local/bin/twshim" --systemd myservice -p "$T/dest/etc/twshim/myservice.conf" 2>/dev/null |
	sed "s#$T/dest##g" | grep -v '^#' >"$T/from_launcher"
grep -v '^#' examples/policies/systemd-dropin.example | grep . >"$T/from_example"
diff "$T/from_example" "$T/from_launcher" || fail "systemd-dropin.example differs from what the launcher writes"

# --write, over a scratch /etc/systemd/system in a mount namespace of its own.
printf '[client *]\nclose = fin-then-reset\n' >"$T/etc/ok.conf"
unshare -m env TW="$TW" T="$T" sh -c '
	set -e
	mount --make-rprivate /
	mount -t tmpfs tmpfs /etc/systemd/system
	"$TW" --systemd myservice -p "$T/etc/ok.conf" --write
	cp /etc/systemd/system/myservice.service.d/twshim.conf "$T/written"
	stat -c "%a %U" /etc/systemd/system/myservice.service.d/twshim.conf
	ls -A /etc/systemd/system/myservice.service.d' >"$T/write.log" 2>&1 || { cat "$T/write.log"; fail "--write"; }
cat "$T/write.log"
assert_has "$T/write.log" "wrote /etc/systemd/system/myservice.service.d/twshim.conf" "--write says where"
assert_has "$T/write.log" "systemctl daemon-reload" "--write: the next step"
assert_has "$T/write.log" "644 root" "mode 0644"
assert_eq "$(grep -c . "$T/write.log")" 6 "no temporary file left beside it"
"$TW" --systemd myservice -p "$T/etc/ok.conf" 2>/dev/null | cmp -s - "$T/written" ||
	fail "--write wrote something else than it prints"
[ -e /etc/systemd/system/myservice.service.d ] && fail "--write reached the host's /etc"

# A unit that sets LD_PRELOAD itself (jemalloc): a later Environment=
# would replace it, so the drop-in keeps it, after ours; one an
# EnvironmentFile= sets would override the drop-in's, which is said.  The
# unit's settings come from "systemctl show", here a stand-in.
mkdir -p "$T/fakebin"
printf 'LD_PRELOAD=/opt/other.so\n' >"$T/fakebin/envfile"
cat >"$T/fakebin/systemctl" <<SH
#!/bin/sh
echo "Environment=FOO=1 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
echo "EnvironmentFiles=$T/fakebin/envfile (ignore_errors=no)"
SH
chmod +x "$T/fakebin/systemctl"
PATH="$T/fakebin:$PATH" "$TW" --systemd myservice >"$T/dropin2" 2>"$T/steps2" || fail "--systemd (own preload)"
cat "$T/dropin2" "$T/steps2"
assert_has "$T/dropin2" "Environment=LD_PRELOAD=\"$lib /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\"" \
    "the unit's own LD_PRELOAD kept after ours"
assert_has "$T/steps2" "EnvironmentFile $T/fakebin/envfile sets LD_PRELOAD" "an EnvironmentFile's said"
U=$T/units2
mkdir -p "$U/myservice.service.d"
printf '[Unit]\nDescription=twshim test\n[Service]\nExecStart=/bin/sleep 1\n' >"$U/myservice.service"
cp "$T/dropin2" "$U/myservice.service.d/twshim.conf"
SYSTEMD_UNIT_PATH="$U:" systemd-analyze verify "$U/myservice.service" >"$T/verify3" 2>&1
assert_eq "$(wc -c <"$T/verify3")" 0 "the merged line verifies clean"
true
