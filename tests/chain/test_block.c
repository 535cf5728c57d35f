/* chain/block: the mainnet genesis block (hash and txid known to all),
 * witness stripping for txids, and every refusal the parser makes. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/block.h"
#include "check.h"

/* Mainnet block 0. */
static const char genesis_hex[] =
	"01000000"
	"0000000000000000000000000000000000000000000000000000000000000000"
	"3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a"
	"29ab5f49ffff001d1dac2b7c"
	"01"
	"01000000010000000000000000000000000000000000000000000000000000000000"
	"000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32"
	"303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e6420"
	"6261696c6f757420666f722062616e6b73ffffffff0100f2052a0100000043410467"
	"8afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc"
	"3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

/* Display order (reversed) of the genesis hash and its coinbase txid. */
static const char genesis_hash[] =
	"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
static const char genesis_txid[] =
	"4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = strlen(hex) / 2;

	if (n > cap || !hex_decode(out, n, hex))
		abort();
	return n;
}

static uint8_t raw[4096];

static void test_genesis(void)
{
	size_t n = unhex(raw, sizeof(raw), genesis_hex);
	char err[200] = "", hx[65];
	struct chain_block *b = chain_block_parse(raw, n, err, sizeof(err));
	struct chain_block h;

	CHECK(b != NULL);
	if (!b) {
		fprintf(stderr, "genesis: %s\n", err);
		return;
	}
	hex_encode_reversed(hx, b->hash, 32);
	CHECK(strcmp(hx, genesis_hash) == 0);
	CHECK(b->time == 1231006505);
	CHECK(b->n_tx == 1);
	hex_encode_reversed(hx, b->tx[0].txid, 32);
	CHECK(strcmp(hx, genesis_txid) == 0);
	CHECK(b->tx[0].n_in == 1 && b->tx[0].n_out == 1);
	CHECK(b->tx[0].in[0].prevout.vout == 0xffffffff);
	CHECK(b->tx[0].out[0].value_sat == 5000000000ull);
	CHECK(b->tx[0].out[0].script_len == 67);
	CHECK(b->tx[0].out[0].script[66] == 0xac); /* OP_CHECKSIG */
	/* The views point into the caller's bytes. */
	CHECK(b->tx[0].out[0].script > raw && b->tx[0].out[0].script < raw + n);
	CHECK(chain_header_parse(raw, &h));
	CHECK_MEM(h.hash, b->hash, 32);
	chain_block_free(b);

	/* The coinbase alone, as getrawtransaction returns it. */
	{
		struct chain_tx *tx = chain_tx_parse(raw + 81, n - 81, err,
						     sizeof(err));
		CHECK(tx != NULL);
		if (tx) {
			hex_encode_reversed(hx, tx->txid, 32);
			CHECK(strcmp(hx, genesis_txid) == 0);
			chain_tx_free(tx);
		}
	}
}

/* A transaction with 2 inputs and 3 outputs, legacy encoding, and the same
 * one with a BIP 144 witness: both must give the legacy txid. */
static size_t legacy_tx(uint8_t *p)
{
	uint8_t *s = p;
	memcpy(p, "\x02\x00\x00\x00", 4), p += 4;
	*p++ = 2;
	for (int i = 0; i < 2; i++) {
		memset(p, 0x11 * (i + 1), 32), p += 32;
		memcpy(p, "\x01\x00\x00\x00", 4), p += 4;
		*p++ = 0;
		memcpy(p, "\xfd\xff\xff\xff", 4), p += 4;
	}
	*p++ = 3;
	for (int i = 0; i < 3; i++) {
		uint64_t v = 1000u * (i + 1);
		for (int k = 0; k < 8; k++)
			*p++ = (uint8_t)(v >> (8 * k));
		*p++ = 34; /* P2WSH: OP_0 PUSH32 <hash> */
		*p++ = 0x00;
		*p++ = 0x20;
		memset(p, 0xa0 + i, 32), p += 32;
	}
	memcpy(p, "\x65\x00\x00\x00", 4), p += 4;
	return (size_t)(p - s);
}

static size_t witness_tx(uint8_t *p, const uint8_t *leg, size_t n,
			 uint8_t flag, bool empty_stacks)
{
	uint8_t *s = p;
	memcpy(p, leg, 4), p += 4;
	*p++ = 0x00; /* marker */
	*p++ = flag;
	memcpy(p, leg + 4, n - 8), p += n - 8;
	for (int i = 0; i < 2; i++) {
		if (empty_stacks) {
			*p++ = 0;
			continue;
		}
		*p++ = 2;
		*p++ = 3, memcpy(p, "abc", 3), p += 3;
		*p++ = 0;
	}
	memcpy(p, leg + n - 4, 4), p += 4;
	return (size_t)(p - s);
}

static void test_witness(void)
{
	uint8_t leg[512], wit[600], want[32];
	char err[200];
	size_t n = legacy_tx(leg), w;
	struct chain_tx *a, *b;

	chain_sha256d(want, leg, n);
	a = chain_tx_parse(leg, n, err, sizeof(err));
	w = witness_tx(wit, leg, n, 1, false);
	b = chain_tx_parse(wit, w, err, sizeof(err));
	CHECK(a && b);
	if (a && b) {
		CHECK_MEM(a->txid, want, 32);
		CHECK_MEM(b->txid, want, 32);
		CHECK(b->n_in == 2 && b->n_out == 3);
		CHECK(b->out[2].value_sat == 3000);
		CHECK(b->out[1].script_len == 34 && b->out[1].script[2] == 0xa1);
		CHECK(b->in[1].prevout.txid[0] == 0x22);
		CHECK(b->in[1].prevout.vout == 1);
	}
	chain_tx_free(a);
	chain_tx_free(b);

	/* Core: "Superfluous witness record", "Unknown transaction optional
	 * data". */
	w = witness_tx(wit, leg, n, 1, true);
	CHECK(chain_tx_parse(wit, w, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "superfluous witness") != NULL);
	w = witness_tx(wit, leg, n, 3, false);
	CHECK(chain_tx_parse(wit, w, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "unknown transaction optional data") != NULL);
}

static void expect_refused(const uint8_t *p, size_t n, const char *why)
{
	char err[200] = "";
	struct chain_block *b = chain_block_parse(p, n, err, sizeof(err));

	CHECK(b == NULL);
	chain_block_free(b);
	if (!strstr(err, why)) {
		fprintf(stderr, "expected \"%s\", got \"%s\"\n", why, err);
		CHECK(false);
	}
}

static void test_refusals(void)
{
	size_t n = unhex(raw, sizeof(raw), genesis_hex);
	uint8_t buf[4096];

	/* Every strict prefix is refused, none crashes. */
	for (size_t k = 0; k < n; k++) {
		char err[200] = "";
		struct chain_block *b = chain_block_parse(raw, k, err,
							  sizeof(err));
		CHECK(b == NULL && err[0]);
		chain_block_free(b);
	}
	expect_refused(raw, 79, "truncated block header");
	expect_refused(raw, n - 1, "truncated tx locktime");

	memcpy(buf, raw, n);
	buf[n] = 0;
	expect_refused(buf, n + 1, "1 trailing bytes");

	/* tx count 0 */
	memcpy(buf, raw, 80);
	buf[80] = 0;
	expect_refused(buf, 81, "no transactions");

	/* tx count encoded 0xfd 0x01 0x00: not the shortest form */
	memcpy(buf, raw, 80);
	memcpy(buf + 80, "\xfd\x01\x00", 3);
	memcpy(buf + 83, raw + 81, n - 81);
	expect_refused(buf, n + 2, "non-canonical");

	/* a count that cannot fit in what is left */
	memcpy(buf, raw, 80);
	memcpy(buf + 80, "\xfe\x00\x00\x01\x00", 5);
	memcpy(buf + 85, raw + 81, n - 81);
	expect_refused(buf, n + 4, "cannot fit");

	/* above MAX_SIZE */
	memcpy(buf, raw, 80);
	memcpy(buf + 80, "\xff\x00\x00\x00\x00\x01\x00\x00\x00", 9);
	expect_refused(buf, 89, "too large");

	/* output script longer than the bytes */
	memcpy(buf, raw, n);
	buf[81 + 4 + 1 + 36 + 1 + 77 + 4 + 1 + 8] = 0xfc;
	expect_refused(buf, n, "tx 0: truncated output script");
}

/* BOLT 3 Appendix B: the funding output of the test vectors,
 * P2WSH of 2 <local_funding_pubkey> <remote_funding_pubkey> 2 CHECKMULTISIG. */
static void test_funding_script(void)
{
	uint8_t k1[33], k2[33], spk[34];
	char hex[69];

	CHECK(hex_decode(k1, 33, "023da092f6980e58d2c037173180e9a465476026ee"
			 "50f96695963e8efe436f54eb"));
	CHECK(hex_decode(k2, 33, "030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf"
			 "6385a132cec6d3c39fa711c1"));
	chain_funding_script(spk, k1, k2);
	CHECK(strcmp(hex_encode(hex, spk, 34), "0020c015c4a6be010e21657068fc2"
		     "e6a9d02b27ebe4d490a25846f7237f104d1a3cd") == 0);
	/* "lexicographically lesser" first, whichever order they come in */
	chain_funding_script(spk, k2, k1);
	CHECK(strcmp(hex_encode(hex, spk, 34), "0020c015c4a6be010e21657068fc2"
		     "e6a9d02b27ebe4d490a25846f7237f104d1a3cd") == 0);
}

static size_t n_tx_of(size_t n)
{
	return n + 1;
}

/* Three real mainnet blocks (tests/data/blocks/README.md): every txid
 * against the header's merkle root; one byte of one transaction changed
 * (the block still parses, its hash is still the header's) is refused;
 * the last transaction repeated (CVE-2012-2459: the same root) is
 * refused as a mutated tree. */
static uint8_t *read_file(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: cannot open\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1024 * 1024);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_mainnet(const char *dir)
{
	static const struct {
		const char *file, *hash;
		size_t n_tx;
	} blocks[] = {
		{ "mainnet-413567.raw", "0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069", 1557 },
		{ "mainnet-702861.raw", "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae", 2500 },
		{ "mainnet-713126.raw", "0000000000000000000593310d3b0cdc082af49f38b8a1611239072aef8433a8", 2967 },
	};
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		size_t len;
		char err[200] = "", hx[65];
		uint8_t *blk = read_file(dir, blocks[i].file, &len);

		CHECK(blk != NULL);
		if (!blk)
			continue;
		struct chain_block *b = chain_block_parse(blk, len, err,
							  sizeof(err));
		CHECK(b != NULL);
		if (!b) {
			fprintf(stderr, "%s: %s\n", blocks[i].file, err);
			free(blk);
			continue;
		}
		hex_encode_reversed(hx, b->hash, 32);
		CHECK(strcmp(hx, blocks[i].hash) == 0);
		CHECK(b->n_tx == blocks[i].n_tx);
		CHECK(chain_block_check_merkle(b, err, sizeof(err)));
		/* Every output script is inside the block's bytes. */
		for (size_t t = 0; t < b->n_tx; t++)
			for (size_t o = 0; o < b->tx[t].n_out; o++)
				CHECK(b->tx[t].out[o].script >= blk &&
				      b->tx[t].out[o].script +
				      b->tx[t].out[o].script_len <= blk + len);

		/* One byte of the middle transaction's first output value
		 * changed: same header, other txid, root mismatch. */
		const struct chain_tx *mid = &b->tx[b->n_tx / 2];
		size_t off = (size_t)(mid->out[0].script - blk) - 9;
		chain_block_free(b);
		blk[off] ^= 0x01;
		b = chain_block_parse(blk, len, err, sizeof(err));
		CHECK(b != NULL);
		if (b) {
			hex_encode_reversed(hx, b->hash, 32);
			CHECK(strcmp(hx, blocks[i].hash) == 0);
			err[0] = '\0';
			CHECK(!chain_block_check_merkle(b, err, sizeof(err)));
			CHECK(strstr(err, "merkle root") != NULL);
			chain_block_free(b);
		}
		blk[off] ^= 0x01;

		/* The last transaction appended again (n_tx odd: the root
		 * is unchanged, the tree mutated). */
		if (blocks[i].n_tx % 2) {
			b = chain_block_parse(blk, len, err, sizeof(err));
			const uint8_t *last = NULL;
			size_t last_len = 0;
			if (b) {
				/* the last tx runs from its start to the end;
				 * find it: its bytes end the block */
				size_t n = b->n_tx;
				chain_block_free(b);
				/* count varint: 0xfd + 2 bytes here */
				CHECK(blk[80] == 0xfd);
				blk[81] = (uint8_t)(n + 1);
				blk[82] = (uint8_t)((n + 1) >> 8);
				/* locate the last tx by parsing prefixes */
				for (size_t cut = len - 60; cut > 81; cut--) {
					struct chain_tx *t = chain_tx_parse(
						blk + cut, len - cut, err,
						sizeof(err));
					if (t) {
						last = blk + cut;
						last_len = len - cut;
						chain_tx_free(t);
						break;
					}
				}
			}
			CHECK(last != NULL);
			if (last) {
				memcpy(blk + len, last, last_len);
				b = chain_block_parse(blk, len + last_len, err,
						      sizeof(err));
				CHECK(b != NULL && b->n_tx == n_tx_of(blocks[i].n_tx));
				err[0] = '\0';
				CHECK(b && !chain_block_check_merkle(b, err,
								   sizeof(err)));
				CHECK(strstr(err, "mutated") != NULL);
				chain_block_free(b);
			}
		}
		free(blk);
	}
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	test_mainnet(argc > 1 ? argv[1] : "tests/data/blocks");
	test_genesis();
	test_witness();
	test_refusals();
	test_funding_script();
	return check_exit();
}
