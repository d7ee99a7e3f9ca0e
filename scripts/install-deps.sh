#!/bin/sh
# Installs everything mxenstored needs to build, run and test on Debian 12.
# Run as root.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential cmake pkg-config clang libclang-rt-14-dev \
	liburcu-dev libxen-dev libjemalloc-dev libbenchmark-dev libcmocka-dev \
	xen-utils-4.17 xenstore-utils python3 python3-pyxs gnuplot-nox spin >/dev/null
