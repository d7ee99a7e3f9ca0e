// SPDX-License-Identifier: MIT
// Microbenchmarks of rings/: 64-byte messages through one ring page.
//
//   build/bench_ring [--benchmark_filter=...] [--benchmark_min_time=...]
//
//   BM_ring_1thread        guest writes one message to req[], daemon
//                          reads it (same thread, ring never full).
//   BM_ring_1thread_batch  16 messages (a full ring) written, then read.
//   BM_ring_stream         two threads: the guest streams messages into
//                          req[], the daemon drains them (bytes/s).
//   BM_ring_pingpong       two threads: the guest sends a request and
//                          spins for the reply the daemon echoes on rsp[]
//                          (one iteration = one round trip).
// Waits are spins (the other side makes progress on another CPU); no
// event channel is involved.  For the two-thread runs read the counters
// (bytes_per_second, items_per_second: messages or round trips per second
// of wall time); google-benchmark's Time column divides by the iterations
// of both threads.
#include <benchmark/benchmark.h>

#include <cstring>

extern "C" {
#include "rings/ring.h"
}

namespace {

constexpr size_t kMsg = 64;

struct Page {
	mxs_ring_page page;
	mxs_ring guest, daemon;

	void Reset()
	{
		std::memset(&page, 0, sizeof(page));
		mxs_ring_init(&daemon, &page, MXS_RING_DAEMON);
		mxs_ring_init(&guest, &page, MXS_RING_GUEST);
	}
};

// Moves exactly len bytes, spinning while the ring is full / empty.
void WriteAll(mxs_ring *r, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = mxs_ring_write(r, buf + off, len - off);
		if (n < 0)
			std::abort();
		off += static_cast<size_t>(n);
	}
}

void ReadAll(mxs_ring *r, char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = mxs_ring_read(r, buf + off, len - off);
		if (n < 0)
			std::abort();
		off += static_cast<size_t>(n);
	}
}

void BM_ring_1thread(benchmark::State &state)
{
	Page p;
	char msg[kMsg], in[kMsg];

	p.Reset();
	std::memset(msg, 'x', sizeof(msg));
	for (auto _ : state) {
		if (mxs_ring_write(&p.guest, msg, kMsg) != (ssize_t)kMsg ||
		    mxs_ring_read(&p.daemon, in, kMsg) != (ssize_t)kMsg)
			std::abort();
		benchmark::DoNotOptimize(in);
	}
	state.SetBytesProcessed(state.iterations() * kMsg);
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ring_1thread);

void BM_ring_1thread_batch(benchmark::State &state)
{
	constexpr size_t kBatch = MXS_RING_SIZE / kMsg;
	Page p;
	char msg[kMsg], in[kMsg];

	p.Reset();
	std::memset(msg, 'x', sizeof(msg));
	for (auto _ : state) {
		for (size_t i = 0; i < kBatch; i++)
			if (mxs_ring_write(&p.guest, msg, kMsg) != (ssize_t)kMsg)
				std::abort();
		for (size_t i = 0; i < kBatch; i++)
			if (mxs_ring_read(&p.daemon, in, kMsg) != (ssize_t)kMsg)
				std::abort();
		benchmark::DoNotOptimize(in);
	}
	state.SetBytesProcessed(state.iterations() * kBatch * kMsg);
	state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ring_1thread_batch);

Page shared; // the two-thread benchmarks; thread 0 resets it

// Thread 0 is the guest, thread 1 the daemon.  Both run the same number
// of iterations, so every message written is read.
void BM_ring_stream(benchmark::State &state)
{
	char msg[kMsg];

	if (state.thread_index() == 0)
		shared.Reset();
	std::memset(msg, 'x', sizeof(msg));
	for (auto _ : state) {
		if (state.thread_index() == 0) {
			WriteAll(&shared.guest, msg, kMsg);
		} else {
			ReadAll(&shared.daemon, msg, kMsg);
			benchmark::DoNotOptimize(msg);
		}
	}
	if (state.thread_index() == 1) {
		state.SetBytesProcessed(state.iterations() * kMsg);
		state.SetItemsProcessed(state.iterations());
	}
}
BENCHMARK(BM_ring_stream)->Threads(2)->UseRealTime();

void BM_ring_pingpong(benchmark::State &state)
{
	char msg[kMsg];

	if (state.thread_index() == 0)
		shared.Reset();
	std::memset(msg, 'x', sizeof(msg));
	for (auto _ : state) {
		if (state.thread_index() == 0) {
			WriteAll(&shared.guest, msg, kMsg);
			ReadAll(&shared.guest, msg, kMsg);
		} else {
			ReadAll(&shared.daemon, msg, kMsg);
			WriteAll(&shared.daemon, msg, kMsg);
		}
	}
	if (state.thread_index() == 0)
		state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ring_pingpong)->Threads(2)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
