/* wallet: listunspent parsing (exact amounts, strictness) and lnd-style
 * balances on a real SQLite file in a temp dir. */
#include "wallet/wallet.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TXA "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define TXB "1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"

static bool parse(const char *json, struct wallet_utxo **u, size_t *n)
{
	char err[200];
	return wallet_parse_listunspent(u, n, err, sizeof(err), json,
					strlen(json));
}

static void test_parse(void)
{
	struct wallet_utxo *u;
	size_t n;
	const char *ok =
		"[ {\"txid\": \"" TXA "\", \"vout\": 1, \"address\": \"bc1q\\u0041\","
		" \"label\": \"caf\\u00e9\", \"amount\": 20999999.99999999,"
		" \"confirmations\": 6, \"parent_descs\": [\"x\", {\"a\": [1, 2e3, null]}],"
		" \"spendable\": true, \"safe\": false},"
		"  {\"amount\": 0.1, \"vout\": 0, \"txid\": \"" TXB "\", \"locked\": true,"
		"   \"account\": \"cold\"} ]";
	CHECK(parse(ok, &u, &n));
	CHECK(n == 2);
	CHECK(strcmp(u[0].txid, TXA) == 0 && u[0].vout == 1);
	CHECK(u[0].amount_sat == 2099999999999999LL);
	CHECK(u[0].confirmations == 6);
	CHECK(strcmp(u[0].address, "bc1qA") == 0);
	CHECK(u[1].amount_sat == 10000000 && u[1].confirmations == 0);
	CHECK(u[1].locked && strcmp(u[1].account, "cold") == 0);
	free(u);

	CHECK(parse("[]", &u, &n) && n == 0);
	free(u);
	CHECK(!parse("", &u, &n));
	CHECK(!parse("{}", &u, &n));
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"vout\": 0}]", &u, &n));
	/* jansson reads numbers as doubles: an exponent form is taken when
	 * it is exactly whole satoshis (bitcoind never writes one). */
	CHECK(parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": 1e-8}]",
		    &u, &n) && n == 1 && u[0].amount_sat == 1);
	free(u);
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": 1e-9}]",
		     &u, &n));
	CHECK(parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": 0.1}]",
		    &u, &n) && n == 1 && u[0].amount_sat == 10000000);
	free(u);
	CHECK(parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": 21000000}]",
		    &u, &n) && n == 1 && u[0].amount_sat == WALLET_MAX_SAT);
	free(u);
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": 0.00000001,"
		     " \"address\": \"a\\u0000b\"}]", &u, &n));
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"txid\": \"" TXA "\", \"vout\": 0,"
		     " \"amount\": 1}]", &u, &n));
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": 0.123456789}]",
		     &u, &n));
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": -1}]",
		     &u, &n));
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": 21000000.00000001}]",
		     &u, &n));
	CHECK(!parse("[{\"txid\": \"ABC\", \"vout\": 0, \"amount\": 1}]", &u, &n));
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"vout\": 4294967296, \"amount\": 1}]",
		     &u, &n));
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": 1}] x",
		     &u, &n));
	CHECK(!parse("[{\"txid\": \"" TXA "\", \"vout\": 0, \"amount\": 1,}]",
		     &u, &n));
	CHECK(!parse("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		     &u, &n));
	CHECK(!parse("[{\"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]",
		     &u, &n));
}

static void test_db(void)
{
	char dir[] = "/tmp/cn-wallet-XXXXXX";
	char path[256];
	struct wallet_balance b;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/wallet.sqlite", dir);
	struct wallet *w = wallet_open(path);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK(wallet_get_balance(w, &b, NULL, 0));
	CHECK(b.total == 0 && b.num_accounts == 0);
	wallet_balance_clear(&b);

	struct wallet_utxo u[3] = { 0 };
	strcpy(u[0].txid, TXA);
	u[0].amount_sat = 1000;
	u[0].confirmations = 3;
	strcpy(u[1].txid, TXA);
	u[1].vout = 1;
	u[1].amount_sat = 200;
	u[1].confirmations = 0;
	strcpy(u[2].txid, TXB);
	u[2].amount_sat = 30;
	u[2].confirmations = 10;
	u[2].locked = true;
	strcpy(u[2].account, "cold");
	CHECK(wallet_import(w, u, 3, false));
	CHECK(wallet_count(w) == 3);
	CHECK(wallet_get_balance(w, &b, NULL, 0));
	CHECK(b.confirmed == 1000 && b.unconfirmed == 200 && b.locked == 30 &&
	      b.total == 1200);
	CHECK(b.num_accounts == 2);
	CHECK(strcmp(b.accounts[1].account, "default") == 0 &&
	      b.accounts[1].confirmed == 1000);
	wallet_balance_clear(&b);
	/* min_confs moves outputs from confirmed to unconfirmed */
	CHECK(wallet_get_balance(w, &b, "default", 4));
	CHECK(b.confirmed == 0 && b.unconfirmed == 1200 && b.num_accounts == 1);
	wallet_balance_clear(&b);
	/* a bad entry rolls the whole import back */
	struct wallet_utxo bad = u[0];
	strcpy(bad.txid, "nothex");
	CHECK(!wallet_import(w, &bad, 1, false));
	CHECK(wallet_count(w) == 3);
	/* replace */
	CHECK(wallet_import(w, u, 1, false));
	CHECK(wallet_count(w) == 1);
	/* append, same outpoint overwritten */
	CHECK(wallet_import(w, u, 2, true));
	CHECK(wallet_count(w) == 2);
	wallet_free(w);

	/* persisted */
	w = wallet_open(path);
	CHECK(w && wallet_count(w) == 2);
	wallet_free(w);
	wallet_free(NULL);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	log_set_level(NULL, LOG_BROKEN);
	test_parse();
	test_db();
	return check_exit();
}
