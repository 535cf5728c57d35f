/* bench_wallet_scrape: what the wallet's balances add to a metrics scrape
 * (collect_wallet in src/daemon/collectors.c calls wallet_get_balance on
 * every scrape, as WalletBalance does per call).  A wallet of N outputs in
 * 3 accounts (a `listunspent` import), timed three ways in the same run:
 * the cached answer a scrape gets (wallet_get_balance, src/wallet/
 * balance.c), the full computation it replaces (wallet_balance_compute),
 * and the floor of any computation: one SQLite pass summing the same
 * table (SELECT TOTAL(amount_sat) FROM utxos) on its own connection.
 *   bench_wallet_scrape [N ...]     (default 1000 10000 100000)
 */
#include "wallet/wallet.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUNS 31

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp_d);
	return v[RUNS / 2];
}

static int one(const char *dir, long n)
{
	char path[512];
	struct wallet_utxo *u = calloc((size_t)n, sizeof(*u));
	static const char *const acct[3] = { "default", "savings", "ops" };
	double tb[RUNS], tf[RUNS], tc[RUNS];
	struct wallet_balance b, c;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	double floor_sum = 0;

	snprintf(path, sizeof(path), "%s/wallet%ld.sqlite", dir, n);
	struct wallet *w = wallet_open(path);
	if (!u || !w)
		return 1;
	for (long i = 0; i < n; i++) {
		snprintf(u[i].txid, sizeof(u[i].txid), "%064lx", (unsigned long)i);
		u[i].vout = (uint32_t)(i % 3);
		u[i].amount_sat = 1000 + i;
		u[i].confirmations = i % 10; /* some unconfirmed */
		snprintf(u[i].account, sizeof(u[i].account), "%s", acct[i % 3]);
		u[i].locked = i % 97 == 0;
	}
	if (!wallet_import(w, u, (size_t)n, false))
		return 1;
	free(u);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT TOTAL(amount_sat) FROM utxos", -1,
			       &st, NULL) != SQLITE_OK)
		return 1;
	/* Interleaved, so both see the same cache and machine load. */
	for (int r = 0; r < RUNS; r++) {
		double t0 = now();
		if (!wallet_balance_compute(w, &b, NULL, 1))
			return 1;
		double t1 = now();
		if (sqlite3_step(st) != SQLITE_ROW)
			return 1;
		floor_sum = sqlite3_column_double(st, 0);
		sqlite3_reset(st);
		double t2 = now();
		if (!wallet_get_balance(w, &c, NULL, 1))
			return 1;
		double t3 = now();
		/* The cache must give the computed answer. */
		if (c.total != b.total || c.confirmed != b.confirmed ||
		    c.locked != b.locked || c.num_accounts != b.num_accounts)
			return 1;
		wallet_balance_clear(&b);
		wallet_balance_clear(&c);
		tb[r] = t1 - t0;
		tf[r] = t2 - t1;
		tc[r] = t3 - t2;
	}
	double mb = median(tb), mf = median(tf), mc = median(tc);
	printf("%7ld outputs: full balance (3 accounts) median %.3f ms; "
	       "floor (one SUM pass) %.3f ms; ratio floor/full %.2f; "
	       "cached %.2f us, floor/cached %.0f (sum %.0f)\n",
	       n, mb * 1e3, mf * 1e3, mf / mb, mc * 1e6, mf / mc, floor_sum);
	sqlite3_finalize(st);
	sqlite3_close(db);
	wallet_free(w);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/bench_wallet_scrape.XXXXXX";
	static const long def[] = { 1000, 10000, 100000 };
	int rc = 0;

	if (!mkdtemp(dir))
		return 1;
	if (argc > 1) {
		for (int i = 1; i < argc && !rc; i++)
			rc = one(dir, atol(argv[i]));
	} else {
		for (size_t i = 0; i < 3 && !rc; i++)
			rc = one(dir, def[i]);
	}
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
