# The Debian package (make deb; make test builds it once, before the suite),
# unpacked into a scratch root: its contents, and its launcher on the demo's
# client.  The launcher has the multiarch library directory built in, so in
# a private mount namespace that directory is replaced by one where
# libtwshim.so is the unpacked library and every other entry the host's own.
# Bare, the client runs out of local ports (make demo's first part); under
# the packaged twshim it completes every request and leaves no TIME_WAIT.
. tests/integration/lib.sh

if [ "${SANITIZER:-plain}" = asan ]; then
	echo "skipped: the package holds the plain build, tested in the plain pass"
	exit 0
fi

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
ML=/usr/lib/$multiarch
version=$(sed -n 's/^VERSION = //p' Makefile)
deb=$B/twshim_${version}_$arch.deb
[ -f "$deb" ] || fail "no $deb: make deb failed (see $B/deb.log)"

R=$T/root
dpkg-deb -x "$deb" "$R"
(cd "$R" && find . ! -type d | sort)
for f in usr/bin/twshim "${ML#/}/libtwshim.so" usr/share/man/man1/twshim.1.gz \
    usr/share/man/man5/twshim.conf.5.gz usr/share/doc/twshim/copyright \
    usr/share/doc/twshim/README.md.gz usr/share/doc/twshim/examples/redis-client.conf; do
	[ -f "$R/$f" ] || fail "/$f is not in the package"
done
n_examples=$(ls examples/policies | wc -l)
assert_eq "$(ls "$R/usr/share/doc/twshim/examples" | wc -l)" "$n_examples" "every example policy"
# Nothing outside /usr, nothing a build tree would have.
assert_eq "$(cd "$R" && ls)" usr "only /usr"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
case "$depends" in *libc6\ \(\>=*) ;; *) fail "Depends not computed from the binaries: $depends" ;; esac
# The launcher's kernel backend (--cgroup) needs libbpf; the library must not.
case "$depends" in *libbpf1*) ;; *) fail "Depends lacks libbpf1, which the launcher links: $depends" ;; esac
objdump -p "$R/${ML#/}/libtwshim.so" | grep NEEDED >"$T/needed"
assert_lacks "$T/needed" "libbpf" "libtwshim.so does not link libbpf"
head -n 1 "$R/usr/share/doc/twshim/copyright" | grep -q copyright-format/1.0 ||
	fail "copyright is not in the machine-readable format"
grep -qaF "$ML" "$R/usr/bin/twshim" || fail "the launcher does not have $ML built in"

# Installed and purged by dpkg into a scratch root with a database of its
# own (the host's stays untouched): dpkg's list is the package's, and
# nothing is left behind.
A=$T/dpkg
mkdir -p "$A/admin/updates" "$A/admin/info" "$A/root"
touch "$A/admin/status" "$A/admin/available"
in_scratch() { dpkg --admindir="$A/admin" --instdir="$A/root" --force-script-chrootless "$@"; }
in_scratch --force-depends -i "$deb" >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -i"; }
in_scratch -L twshim | sort >"$T/listed"
(cd "$R" && find . -mindepth 1 | sed 's/^\.//' | sort) >"$T/unpacked"
diff "$T/unpacked" <(grep -v '^/\.$' "$T/listed") || fail "dpkg -L differs from the package"
"$A/root/usr/bin/twshim" --version >/dev/null || fail "the installed launcher does not run"
in_scratch --purge twshim >>"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg --purge"; }
assert_eq "$(find "$A/root" -mindepth 1 | wc -l)" 0 "nothing left after purge"
assert_eq "$(ls "$A/admin/info" | grep -c twshim)" 0 "no maintainer files left after purge"

# A mount namespace where $ML is a directory of links to the host's own
# entries (bound elsewhere) and to the unpacked library.
pkg_ns() {	# pkg_ns SCRIPT: run SCRIPT with the packaged library in place
	unshare -m env ML="$ML" T="$T" R="$R" B="$B" bash -c '
		set -eu
		mount --make-rprivate /
		ns=$(mktemp -d "$T/ns.XXXXXX")
		mkdir "$ns/host" "$ns/lib"
		mount --bind "$ML" "$ns/host"
		ln -s "$ns"/host/* "$ns/lib/"
		ln -sfn "$R$ML/libtwshim.so" "$ns/lib/libtwshim.so"
		mount --bind "$ns/lib" "$ML"
		'"$1"
}

# The launcher found the unpacked library where it looks for it.
pkg_ns '"$R/usr/bin/twshim" -q -- cat /proc/self/maps' >"$T/maps"
assert_has "$T/maps" "$R$ML/libtwshim.so" "the packaged launcher preloads the packaged library"
"$R/usr/bin/twshim" --version >"$T/version"
assert_has "$T/version" "twshim $version" "the packaged launcher's version"

# The drop-in the packaged launcher writes names the packaged library, in
# the multiarch directory, where the package puts it.
pkg_ns '"$R/usr/bin/twshim" --systemd myservice 2>/dev/null' >"$T/dropin"
grep '^Environment=LD_PRELOAD' "$T/dropin"
assert_eq "$(sed -n 's/^Environment=LD_PRELOAD=//p' "$T/dropin")" "$ML/libtwshim.so" \
    "--systemd names the multiarch library"
[ -f "$R$ML/libtwshim.so" ] || fail "$ML/libtwshim.so, which the drop-in names, is not in the package"
assert_has "$T/dropin" "ExecStartPre=/usr/bin/env -u LD_PRELOAD /usr/bin/test -r $ML/libtwshim.so" \
    "--systemd checks that library before each start"

# make demo's first part, in a namespace of its own each time (TIME_WAIT
# from one run must not meet the next): 500 local ports, no tw_reuse.
demo() {	# demo PREFIX: the client's output, then "TIME_WAIT n"
	unshare -n env B="$B" PREFIX="$1" bash -c '
		ip link set lo up
		sysctl -qw net.ipv4.ip_local_port_range="40000 40499"
		sysctl -qw net.ipv4.tcp_tw_reuse=0
		"$B/examples/legacy_server" 9000 >/dev/null & server=$!
		for i in $(seq 100); do ss -Hltn "sport = :9000" | grep -q . && break; sleep 0.05; done
		$PREFIX "$B/examples/legacy_client" -n 700 127.0.0.1 9000
		echo "exit $?"
		echo "TIME_WAIT $(ss -Htan state time-wait | wc -l)"
		kill $server'
}

demo "" >"$T/bare"
cat "$T/bare"
assert_has "$T/bare" "Cannot assign requested address" "bare, the client runs out of ports"
assert_has "$T/bare" "exit 1" "bare, the client fails"
assert_ge "$(sed -n 's/^TIME_WAIT //p' "$T/bare")" 400 "bare, TIME_WAIT holds the ports"

pkg_ns "$(declare -f demo); demo \"\$R/usr/bin/twshim -q --\"" >"$T/packaged"
cat "$T/packaged"
assert_lacks "$T/packaged" "Cannot assign" "under the packaged twshim, no port exhaustion"
assert_has "$T/packaged" "exit 0" "under the packaged twshim, every request completes"
assert_eq "$(sed -n 's/^TIME_WAIT //p' "$T/packaged")" 0 "under the packaged twshim, no TIME_WAIT"
