/* wallet: accounts import and the scanning core on synthetic blocks read
 * back by the real block parser: outputs and spends, the gap limit moving,
 * immature coinbase, min_confs, the mempool, reorg undo, replay after a
 * crash, and kill -9 of a scanning process at random moments (the result
 * must equal a clean scan). */
#include "wallet/wallet_internal.h"
#include "chain/block.h"
#include "check.h"
#include "rawblock.h"
#include "tkey.h"

#include <secp256k1.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/cn-wallet-scan-XXXXXX";
static char dbpath[320];

static size_t script_of(uint8_t s[WALLET_MAX_SCRIPT], const struct tkey *key,
			enum wallet_addr_type type, uint32_t branch,
			uint32_t idx)
{
	struct wallet_xpub b, c;
	if (!wallet_xpub_child(&b, &key->k, branch) ||
	    !wallet_xpub_child(&c, &b, idx))
		abort();
	return wallet_script_for_key(s, type, c.pubkey);
}

static struct tkey k49, k84, k86;

static char *accounts_json(void)
{
	char *j = malloc(4096);
	snprintf(j, 4096,
		 "{\"accounts\": ["
		 "{\"name\": \"default\", \"address_type\": "
		 "\"HYBRID_NESTED_WITNESS_PUBKEY_HASH\", \"extended_public_key\": "
		 "\"%s\", \"master_key_fingerprint\": null, \"derivation_path\": "
		 "\"m/49'/1'/0'\", \"external_key_count\": 0, "
		 "\"internal_key_count\": 0, \"watch_only\": false},"
		 "{\"name\": \"default\", \"address_type\": \"WITNESS_PUBKEY_HASH\","
		 " \"extended_public_key\": \"%s\", \"master_key_fingerprint\": "
		 "\"0a0b0c0d\", \"derivation_path\": \"m/84'/1'/0'\", "
		 "\"external_key_count\": 2, \"internal_key_count\": 0},"
		 "{\"name\": \"tap\", \"address_type\": \"TAPROOT_PUBKEY\", "
		 "\"extended_public_key\": \"%s\", \"derivation_path\": "
		 "\"m/86'/1'/0'\", \"external_key_count\": \"0\"}"
		 "]}", k49.str, k84.str, k86.str);
	return j;
}

static bool parse_json(struct wallet_account **a, size_t *n, char *err,
		       size_t errlen, const char *net, const char *json)
{
	return wallet_parse_accounts_json(a, n, err, errlen, net, json,
					  strlen(json));
}

static void test_accounts_parse(void)
{
	struct wallet_account *a;
	size_t n;
	char err[300], buf[4096];
	char *json = accounts_json();

	CHECK(parse_json(&a, &n, err, sizeof(err), "regtest", json));
	CHECK(n == 3);
	CHECK(a[0].type == WALLET_ADDR_HYBRID_NP2WKH && a[0].purpose == 49 &&
	      a[0].coin == 1 && a[0].index == 0);
	CHECK(strcmp(a[1].master_fp, "0a0b0c0d") == 0 &&
	      a[1].external_count == 2);
	CHECK(strcmp(a[2].name, "tap") == 0 && a[2].type == WALLET_ADDR_P2TR);
	free(a);
	/* Wrong network: the keys are tpub/upub/vpub. */
	CHECK(!parse_json(&a, &n, err, sizeof(err), "mainnet", json));
	CHECK(strstr(err, "mainnet") != NULL);
	free(json);

	/* The same key as a mainnet zpub on regtest. */
	struct tkey z;
	tkey_random(&z, XKEY_NATIVE, true, 0);
	snprintf(buf, sizeof(buf), "{\"accounts\":[{\"name\":\"x\","
		 "\"address_type\":\"WITNESS_PUBKEY_HASH\",\"extended_public_key\":"
		 "\"%s\",\"derivation_path\":\"m/84'/1'/0'\"}]}", z.str);
	CHECK(!parse_json(&a, &n, err, sizeof(err), "regtest", buf));
	CHECK(strstr(err, "is for mainnet") != NULL);
	/* Coin type 0' on regtest. */
	tkey_random(&z, XKEY_NATIVE, false, 0);
	snprintf(buf, sizeof(buf), "{\"accounts\":[{\"name\":\"x\","
		 "\"address_type\":\"WITNESS_PUBKEY_HASH\",\"extended_public_key\":"
		 "\"%s\",\"derivation_path\":\"m/84'/0'/0'\"}]}", z.str);
	CHECK(!parse_json(&a, &n, err, sizeof(err), "regtest", buf));
	CHECK(strstr(err, "coin type") != NULL);
	/* A vpub (BIP84) on the BIP49 path: path and key version disagree. */
	snprintf(buf, sizeof(buf), "{\"accounts\":[{\"name\":\"x\","
		 "\"address_type\":\"NESTED_WITNESS_PUBKEY_HASH\","
		 "\"extended_public_key\":\"%s\",\"derivation_path\":"
		 "\"m/49'/1'/0'\"}]}", z.str);
	CHECK(!parse_json(&a, &n, err, sizeof(err), "regtest", buf));
	CHECK(strstr(err, "version") != NULL);
	/* Address type and path purpose disagree. */
	snprintf(buf, sizeof(buf), "{\"accounts\":[{\"name\":\"x\","
		 "\"address_type\":\"TAPROOT_PUBKEY\","
		 "\"extended_public_key\":\"%s\",\"derivation_path\":"
		 "\"m/84'/1'/0'\"}]}", z.str);
	CHECK(!parse_json(&a, &n, err, sizeof(err), "regtest", buf));
	/* Key of account 0 named as account 1. */
	snprintf(buf, sizeof(buf), "{\"accounts\":[{\"name\":\"x\","
		 "\"address_type\":\"WITNESS_PUBKEY_HASH\","
		 "\"extended_public_key\":\"%s\",\"derivation_path\":"
		 "\"m/84'/1'/1'\"}]}", z.str);
	CHECK(!parse_json(&a, &n, err, sizeof(err), "regtest", buf));
	CHECK(strstr(err, "depth") != NULL);
	/* A private key is refused and not echoed. */
	const char *tprv = "tprv8ZgxMBicQKsPd9TeAdPADNnSyH9SSUUbTVeFszDE23Ki6TBB5nCefAdHkK8Fm3qMQR6sHwA56zqRmKmxnHk37JkiFzvncDqoKmPWubu7hDF";
	snprintf(buf, sizeof(buf), "{\"accounts\":[{\"name\":\"x\","
		 "\"address_type\":\"WITNESS_PUBKEY_HASH\","
		 "\"extended_public_key\":\"%s\",\"derivation_path\":"
		 "\"m/84'/1'/0'\"}]}", tprv);
	CHECK(!parse_json(&a, &n, err, sizeof(err), "regtest", buf));
	CHECK(strstr(err, "private") != NULL);
	CHECK(strstr(err, "tprv8Zgx") == NULL);
	/* ... nor when the JSON is broken inside it (jansson's error text
	 * quotes up to 20 characters of the token it stopped in). */
	snprintf(buf, sizeof(buf), "{\"accounts\":[{\"name\":\"x\","
		 "\"extended_public_key\":\"%.11s\\q%s\"}]}", tprv,
		 tprv + 11);
	CHECK(!parse_json(&a, &n, err, sizeof(err), "regtest", buf));
	CHECK(strstr(err, "not valid JSON") != NULL);
	CHECK(strstr(err, "tprv8Zgx") == NULL);
	/* Malformed files. */
	const char *bad[] = {
		"", "[]", "{}", "{\"accounts\": []}", "{\"accounts\": [1]}",
		"{\"accounts\": {}}", "{\"accounts\": [{}]}",
		"{\"accounts\": [{\"name\": \"a\"}]", "nul",
		"{\"accounts\": [{\"name\": \"a\", \"address_type\": \"UNKNOWN\","
		" \"extended_public_key\": \"x\", \"derivation_path\": \"m\"}]}",
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		CHECK(!parse_json(&a, &n, err, sizeof(err), "regtest", bad[i]));
		CHECK(err[0] != '\0');
	}
}

/* ---- chain of synthetic blocks ------------------------------------------------ */

struct tblock {
	struct rb_buf raw;
	struct chain_block *blk;
};

static uint8_t tip_hash[32];
static uint32_t tnonce;

/* A block on top of tip_hash with a coinbase paying @cb (may be NULL) and
 * @ntx further transactions. */
struct ttx {
	struct rb_in in[4];
	size_t nin;
	struct rb_out out[4];
	size_t nout;
};

static void make_block(struct tblock *b, const uint8_t prev[32],
		       const struct rb_out *cb, const struct ttx *txs,
		       size_t ntx)
{
	static const uint8_t op_true[] = { 0x51 };
	struct rb_out cbo = { 50 * 100000000ull, op_true, 1 };
	char err[200];
	memset(b, 0, sizeof(*b));
	rb_header(&b->raw, prev, 1700000000 + tnonce, 1 + ntx);
	rb_tx(&b->raw, NULL, 0, cb ? cb : &cbo, 1, ++tnonce);
	for (size_t i = 0; i < ntx; i++)
		rb_tx(&b->raw, txs[i].in, txs[i].nin, txs[i].out, txs[i].nout,
		      ++tnonce);
	b->blk = chain_block_parse(b->raw.p, b->raw.len, err, sizeof(err));
	if (!b->blk) {
		fprintf(stderr, "block parse: %s\n", err);
		abort();
	}
}

static enum wallet_apply conn(struct wallet *w, uint32_t h,
			      const struct chain_block *b)
{
	return wallet_block_connected(w, h, b->hash, b);
}

static void free_block(struct tblock *b)
{
	chain_block_free(b->blk);
	free(b->raw.p);
}

static struct wallet *open_wallet(void)
{
	struct wallet *w = wallet_open(dbpath);
	CHECK(w != NULL);
	CHECK(wallet_configure(w, "regtest", 5));
	return w;
}

static void balance(struct wallet *w, int32_t minconf, int64_t *conf,
		    int64_t *unconf)
{
	struct wallet_balance b;
	CHECK(wallet_get_balance(w, &b, NULL, minconf));
	*conf = b.confirmed;
	*unconf = b.unconfirmed;
	CHECK(b.total == b.confirmed + b.unconfirmed);
	CHECK(b.locked == 0);
	wallet_balance_clear(&b);
}

static void test_scan(void)
{
	struct wallet *w = open_wallet();
	struct wallet_account *a;
	struct wallet_import_result res;
	size_t n;
	char err[300];
	char *json = accounts_json();
	uint8_t s49[34], s84[34], s84c[34], s84far[34], s86[34], sfar[34];
	size_t l49, l84, l84c, l84far, l86, lfar;
	int64_t conf, unconf, h;
	uint8_t hash[32];

	CHECK(parse_json(&a, &n, err, sizeof(err), "regtest", json));
	free(json);
	CHECK(!wallet_has_accounts(w));
	CHECK(wallet_import_accounts(w, &res, err, sizeof(err), a, n, -1));
	CHECK(res.added == 3 && res.already == 0);
	/* 49: 2 branches x 5; 84: external 2 handed out + 5, change 5; 86:
	 * 2 x 5. */
	CHECK(res.watched == 10 + 12 + 10);
	CHECK(wallet_has_accounts(w));
	/* Idempotent: the same accounts again change nothing. */
	CHECK(wallet_import_accounts(w, &res, err, sizeof(err), a, n, -1));
	CHECK(res.added == 0 && res.already == 3 && res.watched == 32);
	free(a);
	CHECK(!wallet_tip(w, &h, hash) && h == -1);

	/* Hybrid: np2wkh receive (branch 0). */
	l49 = script_of(s49, &k49, WALLET_ADDR_NP2WKH, 0, 0);
	l84 = script_of(s84, &k84, WALLET_ADDR_P2WKH, 0, 6);   /* in gap */
	l84far = script_of(s84far, &k84, WALLET_ADDR_P2WKH, 0, 10);
	l84c = script_of(s84c, &k84, WALLET_ADDR_P2WKH, 1, 0);
	l86 = script_of(s86, &k86, WALLET_ADDR_P2TR, 1, 2);
	/* hybrid change is p2wkh: its np2wkh form is not ours */
	lfar = script_of(sfar, &k49, WALLET_ADDR_NP2WKH, 1, 0);

	/* Block 1: the coinbase pays the np2wkh address (immature);
	 * one tx pays 84/0/6, which moves the gap to 6+1+5 = 12. */
	struct rb_out cb = { 5000000000ull, s49, l49 };
	struct ttx t1 = { .nin = 1, .nout = 2 };
	memset(t1.in[0].txid, 0xaa, 32);
	t1.out[0] = (struct rb_out){ 100000, s84, l84 };
	t1.out[1] = (struct rb_out){ 777, sfar, lfar };
	struct tblock b1, b2, b3, b3x;
	make_block(&b1, tip_hash, &cb, &t1, 1);
	CHECK(conn(w, 1, b1.blk) == WALLET_APPLIED);
	CHECK(wallet_tip(w, &h, hash) && h == 1);
	CHECK_MEM(hash, b1.blk->hash, 32);
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 100000 && unconf == 0); /* coinbase immature */
	CHECK(wallet_watched(w) == 32 + 5 + 1);

	/* Block 2: pays 84/0/10 (watched only since the gap moved) and the
	 * taproot change 86/1/2; spends nothing. */
	struct ttx t2 = { .nin = 1, .nout = 2 };
	memset(t2.in[0].txid, 0xbb, 32);
	t2.out[0] = (struct rb_out){ 200000, s84far, l84far };
	t2.out[1] = (struct rb_out){ 300000, s86, l86 };
	make_block(&b2, b1.blk->hash, NULL, &t2, 1);
	CHECK(conn(w, 2, b2.blk) == WALLET_APPLIED);
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 600000 && unconf == 0);
	/* min_confs 2: block 2's outputs have one confirmation. */
	balance(w, 2, &conf, &unconf);
	CHECK(conf == 100000 && unconf == 500000);

	/* Per account, and the account filter. */
	struct wallet_balance bal;
	CHECK(wallet_get_balance(w, &bal, NULL, 1));
	CHECK(bal.num_accounts == 2);
	CHECK(strcmp(bal.accounts[0].account, "default") == 0 &&
	      bal.accounts[0].confirmed == 300000);
	CHECK(strcmp(bal.accounts[1].account, "tap") == 0 &&
	      bal.accounts[1].confirmed == 300000);
	wallet_balance_clear(&bal);
	CHECK(wallet_get_balance(w, &bal, "tap", 1));
	CHECK(bal.total == 300000 && bal.num_accounts == 1);
	wallet_balance_clear(&bal);
	CHECK(!wallet_get_balance(w, &bal, "nosuch", 1) && bal.not_found);
	wallet_balance_clear(&bal);

	/* A replayed block (after a crash) changes nothing. */
	CHECK(conn(w, 2, b2.blk) == WALLET_ALREADY);
	CHECK(conn(w, 1, b1.blk) == WALLET_ALREADY);
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 600000);
	/* A block that does not extend the tip is refused. */
	struct tblock bad;
	make_block(&bad, b1.blk->hash, NULL, NULL, 0);
	CHECK(conn(w, 3, bad.blk) == WALLET_FORK);
	free_block(&bad);

	/* Block 3 spends 84/0/6 (100000) to 84/1/0 change 60000. */
	struct ttx t3 = { .nin = 1, .nout = 1 };
	memcpy(t3.in[0].txid, b1.blk->tx[1].txid, 32);
	t3.in[0].vout = 0;
	t3.out[0] = (struct rb_out){ 60000, s84c, l84c };
	make_block(&b3, b2.blk->hash, NULL, &t3, 1);

	/* First through the mempool: the spent coin leaves the balance at
	 * once, the change is unconfirmed. */
	const struct chain_tx *mp[1] = { &b3.blk->tx[1] };
	CHECK(wallet_mempool(w, mp, 1));
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 500000 && unconf == 60000);
	/* Mempool emptied (evicted): back to before. */
	CHECK(wallet_mempool(w, NULL, 0));
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 600000 && unconf == 0);
	CHECK(wallet_mempool(w, mp, 1));
	/* Then mined. */
	CHECK(conn(w, 3, b3.blk) == WALLET_APPLIED);
	CHECK(wallet_mempool(w, NULL, 0));
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 560000 && unconf == 0);

	/* Kill-safety at the API level: a fresh handle sees the same. */
	wallet_free(w);
	w = open_wallet();
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 560000 && unconf == 0);
	CHECK(wallet_watched(w) == 46);

	/* Reorg: block 3 goes (the spend is undone, the change goes), block
	 * 3' takes its place without it. */
	CHECK(wallet_block_disconnected(w, 3, b3.blk->hash) ==
	      WALLET_APPLIED);
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 600000 && unconf == 0);
	CHECK(wallet_tip(w, &h, hash) && h == 2);
	/* Disconnecting a block below the tip: the ones above first. */
	CHECK(wallet_block_disconnected(w, 1, b1.blk->hash) == WALLET_GAP);
	CHECK(wallet_tip(w, &h, hash) && h == 2);
	make_block(&b3x, b2.blk->hash, NULL, NULL, 0);
	CHECK(conn(w, 3, b3x.blk) == WALLET_APPLIED);
	CHECK(wallet_block_disconnected(w, 3, b3x.blk->hash) ==
	      WALLET_APPLIED);
	CHECK(wallet_block_disconnected(w, 2, b2.blk->hash) == WALLET_APPLIED);
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 100000 && unconf == 0);
	CHECK(conn(w, 2, b2.blk) == WALLET_APPLIED);
	CHECK(conn(w, 3, b3x.blk) == WALLET_APPLIED);

	/* Coinbase maturity: 100 confirmations (btcwallet's ListUnspent). */
	uint8_t prev[32];
	memcpy(prev, b3x.blk->hash, 32);
	for (uint32_t height = 4; height <= 100; height++) {
		struct tblock e;
		make_block(&e, prev, NULL, NULL, 0);
		CHECK(conn(w, height, e.blk) == WALLET_APPLIED);
		memcpy(prev, e.blk->hash, 32);
		free_block(&e);
		if (height == 99) {
			balance(w, 1, &conf, &unconf);
			CHECK(conf == 600000);
		}
	}
	balance(w, 1, &conf, &unconf);
	CHECK(conf == 600000 + 5000000000LL && unconf == 0);

	free_block(&b1);
	free_block(&b2);
	free_block(&b3);
	free_block(&b3x);
	wallet_free(w);
}

/* ---- kill -9 while scanning ------------------------------------------------------- */

#define KILL_BLOCKS 300

static struct tblock *chain_blocks;

static void build_chain(void)
{
	uint8_t prev[32] = { 0 };
	uint8_t s[34];
	size_t l;
	chain_blocks = calloc(KILL_BLOCKS + 1, sizeof(*chain_blocks));
	for (uint32_t h = 1; h <= KILL_BLOCKS; h++) {
		struct ttx t[2];
		memset(t, 0, sizeof(t));
		/* pay a fresh 84 external index each block (moves the gap),
		 * and spend the previous block's output every third block */
		l = script_of(s, &k84, WALLET_ADDR_P2WKH, 0, h);
		t[0].nin = 1;
		memset(t[0].in[0].txid, (int)h, 32);
		t[0].nout = 1;
		t[0].out[0] = (struct rb_out){ 1000 + h, s, l };
		size_t ntx = 1;
		if (h > 1 && h % 3 == 0) {
			t[1].nin = 1;
			memcpy(t[1].in[0].txid, chain_blocks[h - 1].blk->tx[1].txid, 32);
			t[1].nout = 0;
			ntx = 2;
		}
		/* rb_tx with zero outputs is fine for the parser */
		make_block(&chain_blocks[h], prev, NULL, t, ntx);
		memcpy(prev, chain_blocks[h].blk->hash, 32);
	}
}

/* Where the scanning child reports each block done (-1: nowhere). */
static int progress_fd = -1;

/* Scans from the stored tip to the end. */
static void scan_rest(struct wallet *w)
{
	int64_t h;
	uint8_t hash[32];
	int64_t from = wallet_tip(w, &h, hash) ? h + 1 : 1;
	for (int64_t i = from; i <= KILL_BLOCKS; i++) {
		if (conn(w, (uint32_t)i, chain_blocks[i].blk) != WALLET_APPLIED)
			exit(3);
		if (progress_fd >= 0 && write(progress_fd, "b", 1) != 1)
			exit(4);
	}
}

static void test_kill9(void)
{
	char clean[300];
	int64_t want_conf, want_unconf, conf, unconf, h;
	uint8_t hash[32];
	struct wallet *w;
	struct wallet_account *a;
	struct wallet_import_result res;
	size_t n;
	char err[300];
	char *json = accounts_json();

	build_chain();
	CHECK(parse_json(&a, &n, err, sizeof(err), "regtest", json));
	free(json);

	/* The clean scan. */
	snprintf(clean, sizeof(clean), "%s/clean.sqlite", dir);
	snprintf(dbpath, sizeof(dbpath), "%s", clean);
	w = open_wallet();
	CHECK(wallet_import_accounts(w, &res, err, sizeof(err), a, n, 1));
	scan_rest(w);
	balance(w, 1, &want_conf, &want_unconf);
	size_t want_watched = wallet_watched(w);
	wallet_free(w);
	CHECK(want_conf > 0);

	/* The same scan killed -9 at random moments, then resumed. */
	snprintf(dbpath, sizeof(dbpath), "%s/killed.sqlite", dir);
	w = open_wallet();
	CHECK(wallet_import_accounts(w, &res, err, sizeof(err), a, n, 1));
	wallet_free(w);
	free(a);
	/* Each round: the child scans on from the stored tip and reports
	 * every block; after a random number of blocks and a random pause
	 * of up to 2 ms (inside the next block's work or its commit) it is
	 * killed.  Nothing depends on where exactly the kill lands. */
	int64_t before = 0;
	for (int round = 0; round < 5; round++) {
		int fds[2];
		CHECK(pipe(fds) == 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			progress_fd = fds[1];
			struct wallet *cw = open_wallet();
			scan_rest(cw);
			wallet_free(cw);
			_exit(0);
		}
		close(fds[1]);
		uint32_t want = 1 + randombytes_uniform(40), got = 0;
		char c;
		while (got < want && read(fds[0], &c, 1) == 1)
			got++;
		usleep(randombytes_uniform(2000));
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		close(fds[0]);
		CHECK(!WIFEXITED(st) || WEXITSTATUS(st) == 0);
		w = open_wallet();
		if (!wallet_tip(w, &h, hash))
			h = 0;
		fprintf(stderr, "kill round %d: %s after %u blocks, tip %" PRId64
			"\n", round, WIFSIGNALED(st) ? "killed" : "finished",
			got, h);
		/* Every block reported done is in (the child may have gone
		 * further while we read). */
		CHECK(h >= before + got);
		before = h;
		wallet_free(w);
	}
	w = open_wallet();
	scan_rest(w);
	CHECK(wallet_tip(w, &h, hash) && h == KILL_BLOCKS);
	balance(w, 1, &conf, &unconf);
	CHECK(conf == want_conf && unconf == want_unconf);
	CHECK(wallet_watched(w) == want_watched);
	wallet_free(w);
	for (uint32_t i = 1; i <= KILL_BLOCKS; i++)
		free_block(&chain_blocks[i]);
	free(chain_blocks);
}

int main(void)
{
	cn_crypto_init();
	if (!mkdtemp(dir))
		return 2;
	snprintf(dbpath, sizeof(dbpath), "%s/wallet.sqlite", dir);
	tkey_random(&k49, XKEY_NESTED, false, 0);
	tkey_random(&k84, XKEY_NATIVE, false, 0);
	tkey_random(&k86, XKEY_ANY, false, 0);
	test_accounts_parse();
	test_scan();
	test_kill9();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 2;
	return check_exit();
}
