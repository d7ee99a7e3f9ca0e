// SPDX-License-Identifier: MIT
// Microbenchmarks of the store: lock-free reads (scaling with threads),
// writes through the writer lock, transactions and watch matching.
//
//   build/bench_store [--benchmark_filter=...] [--benchmark_min_time=...]
//
// Each benchmark thread is an RCU (QSBR) reader registered for the run and
// announces a quiescent state every iteration, as a worker does per batch.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "store/rcu.h"
#include "store/store.h"
#include "store/watch.h"

namespace {

const mxs_caller kDom0 = {0, MXS_NO_TARGET, true, false};
constexpr int kDomains = 1000;

struct Fixture {
	mxs_store *st = nullptr;
	mxs_watches *reg = nullptr;
	std::vector<std::string> paths;

	Fixture()
	{
		rcu_register_thread();
		st = mxs_store_new();
		reg = mxs_watches_new();
		mxs_changes ch = {};
		char path[64];
		// A host with kDomains guests, a few nodes each.
		for (int d = 1; d <= kDomains; d++) {
			for (const char *leaf : {"name", "memory/target",
						 "device/vif/0/state",
						 "control/shutdown"}) {
				snprintf(path, sizeof(path),
					 "/local/domain/%d/%s", d, leaf);
				mxs_store_write(st, nullptr, &kDom0, path, "1",
						1, &ch);
				mxs_changes_clear(&ch);
				paths.push_back(path);
			}
		}
		free(ch.v);
		// The benchmark threads register themselves (ReaderScope).
		mxs_rcu_offline();
		rcu_unregister_thread();
	}
};

Fixture &fx()
{
	static Fixture f;
	return f;
}

class ReaderScope {
public:
	ReaderScope() { rcu_register_thread(); }
	~ReaderScope()
	{
		mxs_rcu_offline();
		rcu_unregister_thread();
	}
};

void BM_Read(benchmark::State &state)
{
	Fixture &f = fx();
	ReaderScope rs;
	mxs_buf out = {};
	size_t i = (size_t)state.thread_index() * 7919;

	for (auto _ : state) {
		mxs_buf_reset(&out);
		const std::string &p = f.paths[i++ % f.paths.size()];
		benchmark::DoNotOptimize(mxs_store_read(f.st, nullptr, &kDom0,
							p.c_str(), &out));
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Read)->ThreadRange(1, 4)->UseRealTime();

void BM_Directory1000(benchmark::State &state)
{
	Fixture &f = fx();
	ReaderScope rs;
	mxs_buf out = {};

	for (auto _ : state) {
		mxs_buf_reset(&out);
		benchmark::DoNotOptimize(mxs_store_directory(
			f.st, nullptr, &kDom0, "/local/domain", &out));
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Directory1000)->ThreadRange(1, 2)->UseRealTime();

void BM_Write(benchmark::State &state)
{
	Fixture &f = fx();
	ReaderScope rs;
	mxs_changes ch = {};
	size_t i = (size_t)state.thread_index() * 104729;

	for (auto _ : state) {
		const std::string &p = f.paths[i++ % f.paths.size()];
		benchmark::DoNotOptimize(mxs_store_write(
			f.st, nullptr, &kDom0, p.c_str(), "2", 1, &ch));
		mxs_changes_clear(&ch);
		mxs_rcu_quiescent();
	}
	free(ch.v);
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Write)->ThreadRange(1, 4)->UseRealTime();

// Readers while one thread writes: the readers' rate should not collapse.
void BM_ReadWithWriter(benchmark::State &state)
{
	Fixture &f = fx();
	ReaderScope rs;
	mxs_buf out = {};
	mxs_changes ch = {};
	size_t i = (size_t)state.thread_index() * 7919;
	bool writer = state.thread_index() == 0;

	for (auto _ : state) {
		const std::string &p = f.paths[i++ % f.paths.size()];
		if (writer) {
			mxs_store_write(f.st, nullptr, &kDom0, p.c_str(), "3",
					1, &ch);
			mxs_changes_clear(&ch);
		} else {
			mxs_buf_reset(&out);
			benchmark::DoNotOptimize(mxs_store_read(
				f.st, nullptr, &kDom0, p.c_str(), &out));
		}
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	free(ch.v);
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReadWithWriter)->Threads(2)->Threads(4)->UseRealTime();

void BM_TransactionRMW(benchmark::State &state)
{
	Fixture &f = fx();
	ReaderScope rs;
	mxs_buf out = {};
	mxs_changes ch = {};
	size_t i = (size_t)state.thread_index() * 7919;
	int64_t conflicts = 0;

	for (auto _ : state) {
		const std::string &p = f.paths[i++ % f.paths.size()];
		mxs_txn *tx = mxs_txn_new(f.st);
		mxs_buf_reset(&out);
		mxs_store_read(f.st, tx, &kDom0, p.c_str(), &out);
		mxs_store_write(f.st, tx, &kDom0, p.c_str(), "4", 1, &ch);
		if (mxs_txn_commit(tx, &ch) == -EAGAIN)
			conflicts++;
		mxs_txn_free(tx);
		mxs_changes_clear(&ch);
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	free(ch.v);
	state.counters["conflicts"] = (double)conflicts;
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TransactionRMW)->ThreadRange(1, 2)->UseRealTime();

// Matching one change against N watches on unrelated paths plus one
// watcher per ancestor: cost must not grow with N.
void BM_WatchMatch(benchmark::State &state)
{
	mxs_watches *reg = mxs_watches_new();
	std::vector<mxs_watch_owner> owners((size_t)state.range(0) + 1);
	char path[64];

	for (int64_t n = 0; n < state.range(0); n++) {
		mxs_watch_owner_init(&owners[(size_t)n], nullptr, (uint64_t)n);
		snprintf(path, sizeof(path), "/local/domain/%lld/device",
			 (long long)n);
		mxs_watch_add(reg, &owners[(size_t)n], path, "t", 0);
	}
	auto count = [](void *arg, const mxs_watch *, const char *) {
		++*static_cast<int64_t *>(arg);
	};
	int64_t hits = 0;
	for (auto _ : state)
		benchmark::DoNotOptimize(mxs_watches_fire(
			reg, "/local/domain/7/device/vif/0/state", false, count,
			&hits));
	for (auto &o : owners)
		mxs_watch_remove_all(reg, &o);
	mxs_watches_free(reg);
	state.counters["hits/iter"] =
		state.iterations() ? (double)hits / state.iterations() : 0;
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WatchMatch)->Arg(10)->Arg(1000)->Arg(10000);

// Paging through a directory of N children with DIRECTORY_PART in
// 4 KiB replies (the wire's payload limit), as a client lists a big
// host's /local/domain: one iteration is the whole listing.  Linear in N
// when a call costs its reply, quadratic when each call rebuilds the list.
void BM_DirectoryPartPaging(benchmark::State &state)
{
	Fixture &f = fx();
	ReaderScope rs;
	static std::vector<int64_t> built; // the store is shared: once each
	const int64_t n = state.range(0);
	char dir[32];
	mxs_buf out = {};
	int64_t calls = 0;

	snprintf(dir, sizeof(dir), "/paging%lld", (long long)n);
	if (std::find(built.begin(), built.end(), n) == built.end()) {
		mxs_changes ch = {};
		char path[64];

		for (int64_t i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/%lld", dir,
				 (long long)i);
			mxs_store_write(f.st, nullptr, &kDom0, path, "", 0, &ch);
			mxs_changes_clear(&ch);
		}
		free(ch.v);
		built.push_back(n);
	}
	for (auto _ : state) {
		size_t off = 0;
		bool done = false;

		while (!done) {
			mxs_buf_reset(&out);
			mxs_store_directory_part(f.st, nullptr, &kDom0, dir, off,
						 4096, &out);
			size_t glen = strlen(out.p) + 1;
			done = out.len >= glen + 1 && out.p[out.len - 1] == 0 &&
			       out.p[out.len - 2] == 0;
			off += out.len - glen - done;
			calls++;
		}
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	state.counters["calls/iter"] =
		state.iterations() ? (double)calls / state.iterations() : 0;
	state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_DirectoryPartPaging)->Arg(1000)->Arg(5000)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
