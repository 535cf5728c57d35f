/*~ Bitcoin block and transaction parsing.  Two passes over the bytes: the
 * first checks the structure and counts inputs and outputs, the second
 * fills one allocation with every view and hashes the txids.  Counting
 * first means a hostile count field can never make us allocate more than
 * the bytes really hold, and a block costs a constant number of mallocs.
 *
 * Rules follow Bitcoin Core's deserializer (primitives/transaction.h,
 * serialize.h), so what bitcoind accepts parses here and what it refuses
 * is refused with the same reason.
 */
#include "chain/block.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* serialize.h: MAX_SIZE, the largest CompactSize Core will read. */
#define MAX_COMPACT_SIZE 0x02000000u
/* The smallest encodings, to refuse counts the remaining bytes cannot
 * hold before walking them: txin = outpoint 36 + script len 1 +
 * sequence 4; txout = value 8 + script len 1; tx = version 4 + 1 + 1 +
 * locktime 4. */
#define MIN_TXIN 41
#define MIN_TXOUT 9
#define MIN_TX 10

struct cur {
	const uint8_t *p;
	size_t left;
	char *err;
	size_t errlen;
	bool failed;
};

static bool fail(struct cur *c, const char *fmt, ...) CN_PRINTF(2, 3);
static bool fail(struct cur *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->failed && c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	c->failed = true;
	return false;
}

static bool take(struct cur *c, size_t n, const uint8_t **out,
		 const char *what)
{
	if (c->left < n)
		return fail(c, "truncated %s: need %zu bytes, %zu left", what,
			    n, c->left);
	if (out)
		*out = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

/* serialize.h ReadCompactSize: shortest encoding only, at most MAX_SIZE. */
static bool compact(struct cur *c, uint64_t *out, const char *what)
{
	const uint8_t *b = NULL;
	uint64_t v, min;

	if (!take(c, 1, &b, what))
		return false;
	switch (b[0]) {
	case 0xfd:
		if (!take(c, 2, &b, what))
			return false;
		v = (uint64_t)b[0] | (uint64_t)b[1] << 8;
		min = 0xfd;
		break;
	case 0xfe:
		if (!take(c, 4, &b, what))
			return false;
		v = le32_get(b);
		min = 0x10000;
		break;
	case 0xff:
		if (!take(c, 8, &b, what))
			return false;
		v = le64_get(b);
		min = 0x100000000ull;
		break;
	default:
		*out = b[0];
		return true;
	}
	if (v < min)
		return fail(c, "non-canonical size for %s", what);
	if (v > MAX_COMPACT_SIZE)
		return fail(c, "size too large for %s: %llu", what,
			    (unsigned long long)v);
	*out = v;
	return true;
}

/* A count of items each at least @min bytes long. */
static bool count(struct cur *c, uint64_t *out, size_t min, const char *what)
{
	if (!compact(c, out, what))
		return false;
	if (*out > c->left / min)
		return fail(c, "%s count %llu cannot fit in %zu bytes", what,
			    (unsigned long long)*out, c->left);
	return true;
}

/* Where the second pass writes: NULL in the counting pass. */
struct sink {
	struct chain_txin *in;
	struct chain_txout *out;
};

struct tx_spans {
	const uint8_t *start, *io_start, *io_end, *end;
};

static bool walk_ins(struct cur *c, uint64_t n, struct chain_txin *in)
{
	const uint8_t *b = NULL;
	uint64_t slen;

	for (uint64_t i = 0; i < n; i++) {
		if (!take(c, 36, &b, "input outpoint"))
			return false;
		if (in) {
			memcpy(in[i].prevout.txid, b, 32);
			in[i].prevout.vout = le32_get(b + 32);
		}
		if (!compact(c, &slen, "input script length") ||
		    !take(c, slen, NULL, "input script") ||
		    !take(c, 4, NULL, "input sequence"))
			return false;
	}
	return true;
}

static bool walk_outs(struct cur *c, uint64_t n, struct chain_txout *out)
{
	const uint8_t *b = NULL, *s = NULL;
	uint64_t slen;

	for (uint64_t i = 0; i < n; i++) {
		if (!take(c, 8, &b, "output value") ||
		    !compact(c, &slen, "output script length") ||
		    !take(c, slen, &s, "output script"))
			return false;
		if (out) {
			out[i].value_sat = le64_get(b);
			out[i].script = s;
			out[i].script_len = slen;
		}
	}
	return true;
}

/* One transaction, as CTransaction's Unserialize reads it with witness
 * allowed.  Fills @n_in/@n_out; with @s also the views. */
static bool walk_tx(struct cur *c, const struct sink *s, uint64_t *n_in,
		    uint64_t *n_out, struct tx_spans *sp)
{
	uint64_t items, ilen;
	uint8_t flags = 0;
	const uint8_t *b = NULL;
	bool any_witness = false;

	sp->start = c->p;
	if (!take(c, 4, NULL, "tx version"))
		return false;
	sp->io_start = c->p;
	*n_out = 0;
	if (!count(c, n_in, MIN_TXIN, "input"))
		return false;
	if (*n_in == 0) {
		/* An empty input vector here is the BIP 144 marker. */
		if (!take(c, 1, &b, "witness flag"))
			return false;
		flags = b[0];
		if (flags != 0) {
			sp->io_start = c->p;
			if (!count(c, n_in, MIN_TXIN, "input") ||
			    !walk_ins(c, *n_in, s ? s->in : NULL) ||
			    !count(c, n_out, MIN_TXOUT, "output") ||
			    !walk_outs(c, *n_out, s ? s->out : NULL))
				return false;
		}
	} else {
		if (!walk_ins(c, *n_in, s ? s->in : NULL) ||
		    !count(c, n_out, MIN_TXOUT, "output") ||
		    !walk_outs(c, *n_out, s ? s->out : NULL))
			return false;
	}
	sp->io_end = c->p;
	if (flags & 1) {
		flags ^= 1;
		for (uint64_t i = 0; i < *n_in; i++) {
			if (!count(c, &items, 1, "witness item"))
				return false;
			any_witness |= items != 0;
			for (uint64_t j = 0; j < items; j++)
				if (!compact(c, &ilen, "witness item length") ||
				    !take(c, ilen, NULL, "witness item"))
					return false;
		}
		/* Core: "Superfluous witness record" */
		if (!any_witness)
			return fail(c, "superfluous witness record");
	}
	/* Core: "Unknown transaction optional data" */
	if (flags)
		return fail(c, "unknown transaction optional data (flag %u)",
			    flags);
	if (!take(c, 4, NULL, "tx locktime"))
		return false;
	sp->end = c->p;
	return true;
}

/* txid: the hash of the serialization without marker, flag and witness. */
static void txid(uint8_t out[32], const struct tx_spans *sp)
{
	crypto_hash_sha256_state st;
	uint8_t h[32];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, sp->start, 4);
	crypto_hash_sha256_update(&st, sp->io_start,
				  (size_t)(sp->io_end - sp->io_start));
	crypto_hash_sha256_update(&st, sp->end - 4, 4);
	crypto_hash_sha256_final(&st, h);
	crypto_hash_sha256(out, h, sizeof(h));
}

void chain_sha256d(uint8_t out[32], const uint8_t *in, size_t len)
{
	uint8_t h[32];

	crypto_hash_sha256(h, in, len);
	crypto_hash_sha256(out, h, sizeof(h));
}

bool chain_header_parse(const uint8_t raw[80], struct chain_block *hdr_out)
{
	memset(hdr_out, 0, sizeof(*hdr_out));
	chain_sha256d(hdr_out->hash, raw, 80);
	memcpy(hdr_out->prev_hash, raw + 4, 32);
	memcpy(hdr_out->merkle_root, raw + 36, 32);
	hdr_out->time = le32_get(raw + 68);
	return true;
}

bool chain_block_check_merkle(const struct chain_block *b, char *err,
			      size_t errlen)
{
	uint8_t (*h)[32], pair[64];
	size_t n = b->n_tx;
	bool mutated = false;

	if (!n) {
		snprintf(err, errlen, "block has no transactions");
		return false;
	}
	h = malloc(n * 32);
	if (!h)
		abort();
	for (size_t i = 0; i < n; i++)
		memcpy(h[i], b->tx[i].txid, 32);
	/* Each level: pairs hashed, an odd last one paired with itself. */
	while (n > 1) {
		size_t k = 0;
		for (size_t i = 0; i < n; i += 2) {
			const uint8_t *r = i + 1 < n ? h[i + 1] : h[i];
			if (i + 1 < n && !memcmp(h[i], h[i + 1], 32))
				mutated = true;
			memcpy(pair, h[i], 32);
			memcpy(pair + 32, r, 32);
			chain_sha256d(h[k++], pair, 64);
		}
		n = k;
	}
	bool ok = !memcmp(h[0], b->merkle_root, 32);
	free(h);
	if (!ok) {
		snprintf(err, errlen, "transactions do not match the header's "
			 "merkle root");
		return false;
	}
	if (mutated) {
		snprintf(err, errlen, "mutated merkle tree (a duplicated "
			 "transaction, CVE-2012-2459)");
		return false;
	}
	return true;
}

/* The views of @n_tx transactions in one allocation: the block (or a
 * bare tx) first, then the txs, the inputs, the outputs. */
struct layout {
	size_t tx_off, in_off, out_off, total;
};

static void plan(struct layout *l, size_t head, uint64_t n_tx, uint64_t ins,
		 uint64_t outs)
{
	const size_t a = _Alignof(struct chain_txout);

	l->tx_off = head;
	l->in_off = l->tx_off + n_tx * sizeof(struct chain_tx);
	/* chain_txin is 36 bytes: realign for the outputs. */
	l->out_off = (l->in_off + ins * sizeof(struct chain_txin) + a - 1) /
		     a * a;
	l->total = l->out_off + outs * sizeof(struct chain_txout);
}

/* Counting pass over @n_tx txs, then the filling pass into @mem. */
static bool parse_txs(struct cur *c, uint64_t n_tx, uint8_t **mem,
		      size_t head, struct chain_tx **txs_out)
{
	struct cur c2 = *c;
	struct tx_spans sp;
	struct layout l;
	struct chain_tx *txs;
	struct chain_txin *in;
	struct chain_txout *out;
	uint64_t ins = 0, outs = 0, ni, no;

	for (uint64_t i = 0; i < n_tx; i++) {
		if (!walk_tx(c, NULL, &ni, &no, &sp)) {
			/* say which tx, keep the reason */
			if (c->err && c->errlen) {
				char why[160];
				snprintf(why, sizeof(why), "%s", c->err);
				snprintf(c->err, c->errlen, "tx %llu: %s",
					 (unsigned long long)i, why);
			}
			return false;
		}
		ins += ni;
		outs += no;
	}
	plan(&l, head, n_tx, ins, outs);
	*mem = calloc(1, l.total ? l.total : 1);
	if (!*mem)
		return fail(c, "out of memory for %zu bytes", l.total);
	txs = (struct chain_tx *)(*mem + l.tx_off);
	in = (struct chain_txin *)(*mem + l.in_off);
	out = (struct chain_txout *)(*mem + l.out_off);
	for (uint64_t i = 0; i < n_tx; i++) {
		struct sink s = { in, out };
		/* The first pass accepted these same bytes. */
		if (!walk_tx(&c2, &s, &ni, &no, &sp))
			abort();
		txid(txs[i].txid, &sp);
		txs[i].n_in = ni;
		txs[i].n_out = no;
		txs[i].in = ni ? in : NULL;
		txs[i].out = no ? out : NULL;
		in += ni;
		out += no;
	}
	*txs_out = txs;
	return true;
}

struct chain_block *chain_block_parse(const uint8_t *raw, size_t len,
				      char *err, size_t errlen)
{
	struct cur c = { raw, len, err, errlen, false };
	struct chain_block *b;
	struct chain_tx *txs;
	const uint8_t *hdr = NULL;
	uint8_t *mem;
	uint64_t n_tx;

	if (!take(&c, 80, &hdr, "block header") ||
	    !count(&c, &n_tx, MIN_TX, "transaction"))
		return NULL;
	/* Core's CheckBlock: "bad-blk-length" for an empty block. */
	if (n_tx == 0) {
		fail(&c, "block has no transactions");
		return NULL;
	}
	if (!parse_txs(&c, n_tx, &mem, sizeof(*b), &txs))
		return NULL;
	if (c.left) {
		free(mem);
		fail(&c, "%zu trailing bytes after the last transaction",
		     c.left);
		return NULL;
	}
	b = (struct chain_block *)mem;
	chain_header_parse(hdr, b);
	b->n_tx = n_tx;
	b->tx = txs;
	return b;
}

void chain_block_free(struct chain_block *b)
{
	free(b);
}

struct chain_tx *chain_tx_parse(const uint8_t *raw, size_t len, char *err,
				size_t errlen)
{
	struct cur c = { raw, len, err, errlen, false };
	struct chain_tx *tx;
	uint8_t *mem;

	/* The tx itself is the first of the views (head 0). */
	if (!parse_txs(&c, 1, &mem, 0, &tx))
		return NULL;
	if (c.left) {
		free(mem);
		fail(&c, "%zu trailing bytes after the transaction", c.left);
		return NULL;
	}
	return tx;
}

void chain_tx_free(struct chain_tx *tx)
{
	free(tx);
}

void chain_funding_script(uint8_t out[34], const uint8_t k1[33],
			  const uint8_t k2[33])
{
	uint8_t ws[71];
	const uint8_t *a = k1, *b = k2;

	/* BOLT 3: "2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG ... Where
	 * pubkey1 is the lexicographically lesser of the two
	 * funding_pubkey in compressed format". */
	if (memcmp(k1, k2, 33) > 0) {
		a = k2;
		b = k1;
	}
	ws[0] = 0x52;
	ws[1] = 0x21;
	memcpy(ws + 2, a, 33);
	ws[35] = 0x21;
	memcpy(ws + 36, b, 33);
	ws[69] = 0x52;
	ws[70] = 0xae;
	out[0] = 0x00;
	out[1] = 0x20;
	crypto_hash_sha256(out + 2, ws, sizeof(ws));
}
