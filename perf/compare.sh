#!/bin/sh
# Runs the same xsload workloads against mxenstored, Debian's C xenstored
# 4.17 and oxenstored 4.17 (both under the Xen simulator, dom0 initialised)
# in one session, and prints one xsload line per daemon and workload.
#
#   perf/compare.sh [BUILD_DIR] [SECONDS] [DOMAINS]
#
# Then a toolstack boot and death storm (xsboot) of DOMAINS domains
# (default 1000) with 4 toolstack clients against each daemon.
set -eu
build=$(cd "${1:-build}" && pwd)
secs=${2:-5}
doms=${3:-1000}
cxs=/usr/lib/xen-4.17/bin/xenstored
oxs=/usr/lib/xen-4.17/bin/oxenstored
tmp=$(mktemp -d)
opid=
trap 'kill $mpid $cpid $opid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$build/mxenstored" -N -D --socket "$tmp/mx.sock" 2>"$tmp/mx.log" &
mpid=$!
mkdir -p "$tmp/run"
"$build/xensim" --dir "$tmp/sim" init >/dev/null
XENSIM_DIR="$tmp/sim" XENSTORED_RUNDIR="$tmp/run" LD_PRELOAD="$build/libxensim.so" \
	"$cxs" -N 2>"$tmp/cxs.log" &
cpid=$!
if [ -x "$oxs" ]; then
	mkdir -p "$tmp/orun"
	"$build/xensim" --dir "$tmp/osim" init >/dev/null
	printf 'pid-file = %s/ox.pid\npersistent = false\nxenstored-kva = /proc/xen/xsd_kva\nxenstored-port = /proc/xen/xsd_port\n' \
		"$tmp" >"$tmp/ox.conf"
	XENSIM_DIR="$tmp/osim" XENSTORED_RUNDIR="$tmp/orun" LD_PRELOAD="$build/libxensim.so" \
		"$oxs" --no-fork --config-file "$tmp/ox.conf" --no-access-log \
		>"$tmp/ox.log" 2>&1 &
	opid=$!
fi
for i in $(seq 100); do
	[ -S "$tmp/mx.sock" ] && [ -S "$tmp/run/socket" ] &&
		{ [ -z "$opid" ] || [ -S "$tmp/orun/socket" ]; } && break
	sleep 0.1
done

for w in "--clients 1 --pipeline 1 --write-pct 10" \
	 "--clients 8 --pipeline 1 --write-pct 10" \
	 "--clients 8 --pipeline 8 --write-pct 10" \
	 "--clients 8 --pipeline 1 --write-pct 100"; do
	# shellcheck disable=SC2086
	"$build/xsload" --socket "$tmp/mx.sock" --seconds "$secs" $w --label mxenstored
	# shellcheck disable=SC2086
	"$build/xsload" --socket "$tmp/run/socket" --seconds "$secs" $w --label c-xenstored
	if [ -n "$opid" ]; then
		# shellcheck disable=SC2086
		"$build/xsload" --socket "$tmp/orun/socket" --seconds "$secs" $w --label oxenstored
	fi
done

# The reference daemons check with Xen that a node's owner exists: give the
# simulated hypervisors the domains (not introduced: only their domids).
"$build/xensim" --dir "$tmp/sim" create -n "$doms" >/dev/null
[ -z "$opid" ] || "$build/xensim" --dir "$tmp/osim" create -n "$doms" >/dev/null
"$build/xsboot" --socket "$tmp/mx.sock" --domains "$doms" --clients 4 --label mxenstored
"$build/xsboot" --socket "$tmp/run/socket" --domains "$doms" --clients 4 --label c-xenstored
if [ -n "$opid" ]; then
	"$build/xsboot" --socket "$tmp/orun/socket" --domains "$doms" --clients 4 --label oxenstored
fi
