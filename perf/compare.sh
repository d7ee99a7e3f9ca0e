#!/bin/sh
# Runs the same xsload workloads against mxenstored and Debian's C
# xenstored 4.17 (under the Xen simulator, with dom0 initialised) in one
# session, and prints one xsload line per daemon and workload.
#
#   perf/compare.sh [BUILD_DIR] [SECONDS]
set -eu
build=$(cd "${1:-build}" && pwd)
secs=${2:-5}
cxs=/usr/lib/xen-4.17/bin/xenstored
tmp=$(mktemp -d)
trap 'kill $mpid $cpid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$build/mxenstored" -N -D --socket "$tmp/mx.sock" 2>"$tmp/mx.log" &
mpid=$!
mkdir -p "$tmp/run"
"$build/xensim" --dir "$tmp/sim" init >/dev/null
XENSIM_DIR="$tmp/sim" XENSTORED_RUNDIR="$tmp/run" LD_PRELOAD="$build/libxensim.so" \
	"$cxs" -N 2>"$tmp/cxs.log" &
cpid=$!
for i in $(seq 100); do
	[ -S "$tmp/mx.sock" ] && [ -S "$tmp/run/socket" ] && break
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
done
