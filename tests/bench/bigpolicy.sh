#!/bin/sh
# bigpolicy.sh N - a policy of N sections that a loopback connection does
# not match but its last two, which it does: hosts, subnets, ports and port
# ranges of every role, so every part of the matcher holds many entries.
set -eu
n=${1:-10000}
awk -v n="$n" 'BEGIN {
	for (i = 0; i < n - 2; i++) {
		a = int(i / 250) % 250 + 1; b = i % 250 + 1
		role = i % 3 == 0 ? "client" : i % 3 == 1 ? "accepted" : "listener"
		key = role == "listener" ? "reuseaddr = yes" : "nodelay = yes"
		if (i % 4 == 0)
			printf "[%s 10.%d.%d.0/24:%d]\n%s\n", role, a, b, 1000 + i % 50000, key
		else if (i % 4 == 1)
			printf "[%s 192.0.%d.%d]\n%s\n", role, i % 256, b, key
		else if (i % 4 == 2)
			printf "[%s [2001:db8:%x::%x]:%d-%d]\n%s\n", role, a, b, 2000 + i % 1000, 2100 + i % 1000, key
		else
			printf "[%s *:%d]\n%s\n", role, 20000 + i % 30000, key
	}
	printf "[client 127.0.0.0/8]\nclose = abort\n[accepted *]\nclose = abort\n"
}'
