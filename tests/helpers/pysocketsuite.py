"""pysocketsuite.py - CPython's own test_socket, run bare and under a command
prefix (the library), each split by test class over parallel shards of
CPython's test runner.  Prints what ran and failed in each, and exits 1 if
any test fails only under the prefix.

    python3 pysocketsuite.py SHARDS PREFIX...

Run it with the Python whose test suite it is (Debian: /usr/bin/python3 and
the package libpython3.11-testsuite).  The VSOCK cases are left out: they
hang on some kernels even bare.
"""
import concurrent.futures
import re
import subprocess
import sys
import unittest

from test import test_socket

# Classes that take seconds (they sleep or wait for timeouts); the rest take
# milliseconds.  Only the balance of the shards depends on this.
SLOW = {"NetworkConnectionBehaviourTest": 6.0, "GeneralModuleTests": 3.5,
        "TCPTimeoutTest": 3.0}


def weight(name):
    if name in SLOW:
        return SLOW[name]
    if re.search(r"FileObject|Sendfile|Timeout|Closer", name):
        return 1.0
    return 0.05


def classes():
    found = set()
    def walk(suite):
        for t in suite:
            if isinstance(t, unittest.TestSuite):
                walk(t)
            elif "VSOCK" not in t.id():
                found.add(type(t).__name__)
    walk(unittest.TestLoader().loadTestsFromModule(test_socket))
    return sorted(found)


def shards(names, n):
    """Longest first, each to the lightest shard."""
    out = [[0.0, []] for _ in range(n)]
    for name in sorted(names, key=weight, reverse=True):
        lightest = min(out, key=lambda s: s[0])
        lightest[0] += weight(name)
        lightest[1].append(name)
    return [s[1] for s in out if s[1]]


def run(prefix, names):
    cmd = prefix + [sys.executable, "-m", "test", "test_socket", "-v",
                    "-i", "*VSOCK*"]
    for name in names:
        cmd += ["-m", name]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    ran = sum(int(n) for n in re.findall(r"^Ran (\d+) tests?", p.stdout, re.M))
    skipped = sum(int(n) for n in re.findall(r"^(?:OK|FAILED) \(.*?skipped=(\d+)", p.stdout, re.M))
    bad = set(re.findall(r"^(?:FAIL|ERROR): (\S+ \(\S+\))", p.stdout, re.M))
    if ran == 0 or (p.returncode != 0 and not bad):
        sys.stdout.write(p.stdout[-3000:])
        bad.add("(the runner failed: exit %d)" % p.returncode)
    return ran, skipped, bad, p.stdout


def main():
    n = int(sys.argv[1])
    prefix = sys.argv[2:]
    parts = shards(classes(), n)
    with concurrent.futures.ThreadPoolExecutor(2 * len(parts)) as pool:
        bare = [pool.submit(run, [], p) for p in parts]
        shim = [pool.submit(run, prefix, p) for p in parts]
        results = {}
        for label, futures in (("bare", bare), ("twshim", shim)):
            ran, skipped, bad, logs = 0, 0, set(), []
            for f in futures:
                r, k, b, log = f.result()
                ran += r
                skipped += k
                bad |= b
                logs.append(log)
            results[label] = (ran, bad, logs, skipped)
    for label in ("bare", "twshim"):
        ran, bad, _, skipped = results[label]
        print("%s: %d tests ran (%d of them skipped), %d failed" % (label, ran, skipped, len(bad)))
        for t in sorted(bad):
            print("    " + t)
    only = results["twshim"][1] - results["bare"][1]
    if results["twshim"][0] != results["bare"][0]:
        print("not the same tests ran")
        only.add("(count)")
    if only:
        print("failing only under twshim:")
        for t in sorted(only):
            print("    " + t)
        shown = 0
        for t in sorted(only):
            name = re.escape(t)
            for log in results["twshim"][2]:
                m = re.search(r"^(?:FAIL|ERROR): %s\n.*?(?=^={20}|^-{20}\nRan)" % name, log, re.M | re.S)
                if m and shown < 3:
                    sys.stdout.write(m.group(0)[:1500])
                    shown += 1
                    break
        return 1
    print("no test fails only under twshim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
