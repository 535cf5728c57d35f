/* coldsigner's policy (issue 22): one table for cs_policy_sign, built
 * around coldnode's two real requests (the key check's challenge and our
 * node_announcement, written here field by field per BOLT 7), each
 * mutated into the shapes the policy must refuse; ECDH points; then the
 * whole path through cs_handle_policy: lnd's checks and texts first, the
 * policy's SignerError after, and --policy=none signing as lnd does. */
#include "coldsigner/coldsigner.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/common.h"
#include "watchonly.pb-c.h"

#define PFX "error processing the request in the remote signer: "
#define POL PFX "refused by coldsigner's policy: "

static struct cn_nodekey *key;
static uint8_t node_pub[33], other_pub[33];

/* ---- node_announcement bodies (after the signature) ------------------ */

struct ann {
	uint8_t features[16];
	size_t flen;
	uint32_t ts;
	const uint8_t *node_id;
	uint8_t rgb[3];
	uint8_t alias[32];
	uint8_t addrs[600];
	size_t alen;
	uint8_t extra[8];
	size_t extra_len;
	int flen_delta; /* lie in the length prefix */
	int alen_delta;
};

static size_t ann_write(uint8_t *out, const struct ann *a)
{
	size_t n = 0;
	size_t fl = a->flen + a->flen_delta, al = a->alen + a->alen_delta;

	out[n++] = (uint8_t)(fl >> 8);
	out[n++] = (uint8_t)fl;
	memcpy(out + n, a->features, a->flen);
	n += a->flen;
	out[n++] = (uint8_t)(a->ts >> 24);
	out[n++] = (uint8_t)(a->ts >> 16);
	out[n++] = (uint8_t)(a->ts >> 8);
	out[n++] = (uint8_t)a->ts;
	memcpy(out + n, a->node_id, 33);
	n += 33;
	memcpy(out + n, a->rgb, 3);
	n += 3;
	memcpy(out + n, a->alias, 32);
	n += 32;
	out[n++] = (uint8_t)(al >> 8);
	out[n++] = (uint8_t)al;
	memcpy(out + n, a->addrs, a->alen);
	n += a->alen;
	memcpy(out + n, a->extra, a->extra_len);
	return n + a->extra_len;
}

/* What coldnode sends today: no features, alias, no addresses. */
static struct ann base_ann(void)
{
	struct ann a;

	memset(&a, 0, sizeof(a));
	a.ts = 1733000000;
	a.node_id = node_pub;
	a.rgb[2] = 1;
	memcpy(a.alias, "test-remote", 11);
	return a;
}

static void add_addr(struct ann *a, const uint8_t *d, size_t n)
{
	memcpy(a->addrs + a->alen, d, n);
	a->alen += n;
}

static const uint8_t ipv4[] = { 1, 203, 0, 113, 7, 0x26, 0x07 };
static const uint8_t ipv6[] = { 2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				0, 0, 0, 0, 0, 0, 0, 1, 0x26, 0x07 };
static const uint8_t dns[] = { 5, 11, 'n', 'o', 'd', 'e', '.', 'e', 'x',
			       'a', 'm', 'p', 'l', 0x26, 0x07 };

/* ---- the table --------------------------------------------------------- */

enum shape {
	CHALLENGE,      /* coldnode's key check */
	ANN,            /* coldnode's node_announcement (struct ann) */
	RAW,            /* literal bytes */
};

struct row {
	const char *name;
	enum shape shape;
	void (*mut)(struct ann *a); /* ANN: change the template */
	const char *raw;            /* RAW */
	bool dbl, compact, schnorr;
	size_t tag_len, tweak_len;
	int chal_len_delta;         /* CHALLENGE: bytes more or fewer */
	enum cs_sign_kind want;
	const char *why;            /* substring of the reason, if refused */
};

static void m_none(struct ann *a) { (void)a; }
static void m_addrs(struct ann *a)
{
	add_addr(a, ipv4, sizeof(ipv4));
	add_addr(a, ipv6, sizeof(ipv6));
	add_addr(a, dns, sizeof(dns));
}
static void m_torv3(struct ann *a)
{
	uint8_t t[38] = { 4 };
	add_addr(a, ipv4, sizeof(ipv4));
	add_addr(a, t, sizeof(t)); /* port 0 is fine for Tor */
}
static void m_features(struct ann *a)
{
	a->features[0] = 0x80; /* bit 7 gossip_queries, optional */
	a->flen = 1;
}
static void m_features8(struct ann *a)
{
	memset(a->features, 0xaa, 8);
	a->flen = 8;
}
static void m_features9(struct ann *a)
{
	memset(a->features, 0xaa, 9);
	a->flen = 9;
}
static void m_features_pad(struct ann *a)
{
	a->features[1] = 0x80;
	a->flen = 2;
}
static void m_other_key(struct ann *a) { a->node_id = other_pub; }
static void m_ts0(struct ann *a) { a->ts = 0; }
static void m_alias_full(struct ann *a) { memset(a->alias, 'x', 32); }
static void m_alias_utf8(struct ann *a)
{
	memcpy(a->alias, "caf\xc3\xa9 \xe2\x9a\xa1", 9);
}
static void m_alias_empty(struct ann *a) { memset(a->alias, 0, 32); }
static void m_alias_after_nul(struct ann *a) { a->alias[20] = 'z'; }
static void m_alias_bad_utf8(struct ann *a) { a->alias[3] = 0xff; }
static void m_alias_overlong(struct ann *a)
{
	a->alias[0] = 0xc0;
	a->alias[1] = 0xaf;
}
static void m_alias_cut(struct ann *a)
{
	memset(a->alias, 0, 32);
	a->alias[0] = 'a';
	a->alias[1] = 0xe2; /* 3-byte sequence cut by the padding */
	a->alias[2] = 0x9a;
}
static void m_alias_ctrl(struct ann *a) { a->alias[0] = '\n'; }
static void m_extra(struct ann *a)
{
	a->extra[0] = 1;
	a->extra_len = 1;
}
static void m_tlv(struct ann *a)
{
	static const uint8_t tlv[] = { 1, 2, 0xab, 0xcd };
	memcpy(a->extra, tlv, sizeof(tlv));
	a->extra_len = sizeof(tlv);
}
static void m_short_alen(struct ann *a)
{
	add_addr(a, ipv4, sizeof(ipv4));
	a->alen_delta = 1; /* says 8, has 7 */
}
static void m_long_alen(struct ann *a)
{
	add_addr(a, ipv4, sizeof(ipv4));
	a->alen_delta = -1;
}
static void m_flen_lie(struct ann *a) { a->flen_delta = 300; }
static void m_type3(struct ann *a)
{
	uint8_t t[13] = { 3 };
	t[11] = 1;
	add_addr(a, t, sizeof(t));
}
static void m_type9(struct ann *a)
{
	uint8_t t[7] = { 9, 1, 2, 3, 4, 0, 1 };
	add_addr(a, t, sizeof(t));
}
static void m_port0(struct ann *a)
{
	uint8_t t[7] = { 1, 203, 0, 113, 7, 0, 0 };
	add_addr(a, t, sizeof(t));
}
static void m_order(struct ann *a)
{
	add_addr(a, ipv6, sizeof(ipv6));
	add_addr(a, ipv4, sizeof(ipv4));
}
static void m_two_dns(struct ann *a)
{
	add_addr(a, dns, sizeof(dns));
	add_addr(a, dns, sizeof(dns));
}
static void m_dns_bad(struct ann *a)
{
	uint8_t t[15];
	memcpy(t, dns, sizeof(t));
	t[5] = ' ';
	add_addr(a, t, sizeof(t));
}
static void m_dns_empty(struct ann *a)
{
	uint8_t t[4] = { 5, 0, 0x26, 0x07 };
	add_addr(a, t, sizeof(t));
}

static const struct row rows[] = {
	/* What coldnode asks: signed. */
	{ "key check", CHALLENGE, .dbl = true, .compact = true,
	  .want = CS_SIGN_KEYCHECK },
	{ "node_announcement as coldnode sends it", ANN, m_none, .dbl = true,
	  .want = CS_SIGN_NODE_ANN },
	{ "... with IPv4, IPv6, DNS", ANN, m_addrs, .dbl = true,
	  .want = CS_SIGN_NODE_ANN },
	{ "... with Tor v3", ANN, m_torv3, .dbl = true,
	  .want = CS_SIGN_NODE_ANN },
	{ "... with a feature bit", ANN, m_features, .dbl = true,
	  .want = CS_SIGN_NODE_ANN },
	{ "... with 8 feature bytes", ANN, m_features8, .dbl = true,
	  .want = CS_SIGN_NODE_ANN },
	{ "... with a full 32-byte alias", ANN, m_alias_full, .dbl = true,
	  .want = CS_SIGN_NODE_ANN },
	{ "... with a UTF-8 alias", ANN, m_alias_utf8, .dbl = true,
	  .want = CS_SIGN_NODE_ANN },
	{ "... with no alias", ANN, m_alias_empty, .dbl = true,
	  .want = CS_SIGN_NODE_ANN },

	/* The key check's shape, bent. */
	{ "challenge not compact", CHALLENGE, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "node_announcement" },
	{ "challenge single SHA-256", CHALLENGE, .compact = true,
	  .want = CS_SIGN_REFUSED, .why = "single SHA-256" },
	{ "challenge one byte short", CHALLENGE, .dbl = true, .compact = true,
	  .chal_len_delta = -1, .want = CS_SIGN_REFUSED, .why = "compact" },
	{ "challenge one byte long", CHALLENGE, .dbl = true, .compact = true,
	  .chal_len_delta = 1, .want = CS_SIGN_REFUSED, .why = "compact" },
	{ "challenge as Schnorr", CHALLENGE, .dbl = true, .schnorr = true,
	  .want = CS_SIGN_REFUSED, .why = "Schnorr" },
	{ "compact node_announcement", ANN, m_none, .dbl = true,
	  .compact = true, .want = CS_SIGN_REFUSED, .why = "compact" },

	/* The node_announcement, bent. */
	{ "node_announcement single SHA-256", ANN, m_none,
	  .want = CS_SIGN_REFUSED, .why = "single SHA-256" },
	{ "node_announcement Schnorr", ANN, m_none, .dbl = true,
	  .schnorr = true, .want = CS_SIGN_REFUSED, .why = "Schnorr" },
	{ "node_announcement Schnorr with tweak", ANN, m_none, .tweak_len = 32,
	  .want = CS_SIGN_REFUSED, .why = "Schnorr" },
	{ "tag alone", ANN, m_none, .tag_len = 5, .want = CS_SIGN_REFUSED,
	  .why = "Schnorr" },
	{ "another node's", ANN, m_other_key, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "not our key" },
	{ "zero timestamp", ANN, m_ts0, .dbl = true, .want = CS_SIGN_REFUSED,
	  .why = "timestamp" },
	{ "9 feature bytes", ANN, m_features9, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "8 bytes" },
	{ "features with a zero first byte", ANN, m_features_pad, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "minimally" },
	{ "flen past the end", ANN, m_flen_lie, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "truncated" },
	{ "alias bytes after its NUL", ANN, m_alias_after_nul, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "alias" },
	{ "alias not UTF-8", ANN, m_alias_bad_utf8, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "alias" },
	{ "alias overlong UTF-8", ANN, m_alias_overlong, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "alias" },
	{ "alias UTF-8 cut short", ANN, m_alias_cut, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "alias" },
	/* BOLT 7 asks for UTF-8, nothing more: coldnode's --alias may
	 * hold a tab. */
	{ "alias with a control character", ANN, m_alias_ctrl, .dbl = true,
	  .want = CS_SIGN_NODE_ANN },
	{ "a byte after the addresses", ANN, m_extra, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "after the addresses" },
	{ "a TLV after the addresses", ANN, m_tlv, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "after the addresses" },
	{ "addrlen past the end", ANN, m_short_alen, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "truncated" },
	{ "addrlen cuts an address", ANN, m_long_alen, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "" },
	{ "Tor v2 (deprecated)", ANN, m_type3, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "address type" },
	{ "unknown address type", ANN, m_type9, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "address type" },
	{ "port 0", ANN, m_port0, .dbl = true, .want = CS_SIGN_REFUSED,
	  .why = "port 0" },
	{ "addresses out of order", ANN, m_order, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "order" },
	{ "two DNS names", ANN, m_two_dns, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "DNS" },
	{ "DNS name with a space", ANN, m_dns_bad, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "host name" },
	{ "empty DNS name", ANN, m_dns_empty, .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "host name" },

	/* The oracle's favourites. */
	{ "any message", RAW, .raw = "hello", .dbl = true,
	  .want = CS_SIGN_REFUSED, .why = "truncated" },
	{ "the challenge's tag inside a longer message", RAW,
	  .raw = "0123456789012345678901234567890123456789coldnode-signer-"
		 "check", .dbl = true, .compact = true,
	  .want = CS_SIGN_REFUSED, .why = "compact" },
	{ "TapSighash put in the message", RAW,
	  .raw = "TapSighashTapSighash0123456789", .schnorr = true,
	  .want = CS_SIGN_REFUSED, .why = "Schnorr" },
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		uint8_t buf[1024];
		struct cs_sign_ask a = { .msg = buf };
		const char *why;
		enum cs_sign_kind got;

		switch (r->shape) {
		case CHALLENGE:
			randombytes_buf(buf, 32);
			memcpy(buf + 32, CS_CHALLENGE_TAG,
			       strlen(CS_CHALLENGE_TAG));
			a.len = 32 + strlen(CS_CHALLENGE_TAG);
			if (r->chal_len_delta < 0) {
				/* Drop a random byte: the tag still ends it. */
				memmove(buf, buf + 1, a.len - 1);
				a.len--;
			} else if (r->chal_len_delta > 0) {
				memmove(buf + 1, buf, a.len);
				a.len++;
			}
			break;
		case ANN: {
			struct ann an = base_ann();
			r->mut(&an);
			a.len = ann_write(buf, &an);
			break;
		}
		case RAW:
			a.len = strlen(r->raw);
			memcpy(buf, r->raw, a.len);
			break;
		}
		a.double_hash = r->dbl;
		a.compact = r->compact;
		a.schnorr = r->schnorr;
		a.tag_len = r->tag_len;
		a.tweak_len = r->tweak_len;
		got = cs_policy_sign(&a, node_pub, &why);
		if (got != r->want ||
		    (r->why && (!why || !strstr(why, r->why))) ||
		    (!r->why && why)) {
			fprintf(stderr, "row '%s': want %s (%s), got %s (%s)\n",
				r->name, cs_sign_kind_str(r->want),
				r->why ? r->why : "-", cs_sign_kind_str(got),
				why ? why : "-");
			CHECK(!"policy table");
		}
	}
}

static void test_ecdh_points(void)
{
	uint8_t p[33];
	const char *why;

	memcpy(p, other_pub, 33);
	CHECK(cs_policy_ecdh(p, 33, &why) && !why);
	CHECK(!cs_policy_ecdh(p, 32, &why) && strstr(why, "33-byte"));
	/* Uncompressed prefix, the infinity encoding, hybrid. */
	for (int pre = 0; pre < 8; pre++) {
		p[0] = (uint8_t)pre;
		CHECK(cs_policy_ecdh(p, 33, &why) == (pre == 2 || pre == 3));
	}
	/* x = 5 is not on secp256k1: 5^3 + 7 = 132 is not a square mod p
	 * (an invalid-curve point). */
	memset(p, 0, 33);
	p[0] = 2;
	p[32] = 5;
	CHECK(!cs_policy_ecdh(p, 33, &why) && strstr(why, "not on the curve"));
	memset(p + 1, 0xff, 32); /* x >= field prime */
	CHECK(!cs_policy_ecdh(p, 33, &why));
}

/* ---- through cs_handle_policy ------------------------------------------- */

static const char *sign_via(enum cs_policy pol, const uint8_t *msg,
			    size_t len, bool dbl, bool compact, bool schnorr,
			    int fam, char text[300], size_t *siglen)
{
	Watchonlyrpc__SignCoordinatorRequest m =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__INIT;
	Signrpc__SignMessageReq sm = SIGNRPC__SIGN_MESSAGE_REQ__INIT;
	Signrpc__KeyLocator kl = SIGNRPC__KEY_LOCATOR__INIT;
	Watchonlyrpc__SignCoordinatorResponse *r;
	uint8_t *buf, *out;
	size_t n, outlen;
	char err[200];
	const char *refused;

	sm.msg.data = (uint8_t *)msg;
	sm.msg.len = len;
	kl.key_family = fam;
	sm.key_loc = &kl;
	sm.double_hash = dbl;
	sm.compact_sig = compact;
	sm.schnorr_sig = schnorr;
	m.request_id = 7;
	m.sign_request_type_case =
		WATCHONLYRPC__SIGN_COORDINATOR_REQUEST__SIGN_REQUEST_TYPE_SIGN_MESSAGE_REQ;
	m.sign_message_req = &sm;
	n = watchonlyrpc__sign_coordinator_request__get_packed_size(&m);
	buf = malloc(n);
	n = watchonlyrpc__sign_coordinator_request__pack(&m, buf);
	CHECK(cs_handle_policy(key, pol, &refused, &out, &outlen, err,
			       sizeof(err), buf, n) == CS_REPLY);
	free(buf);
	r = watchonlyrpc__sign_coordinator_response__unpack(NULL, outlen, out);
	CHECK(r && r->ref_request_id == 7);
	text[0] = '\0';
	*siglen = 0;
	if (r->sign_response_type_case ==
	    WATCHONLYRPC__SIGN_COORDINATOR_RESPONSE__SIGN_RESPONSE_TYPE_SIGNER_ERROR)
		snprintf(text, 300, "%s", r->signer_error->error);
	else
		*siglen = r->sign_message_resp->signature.len;
	watchonlyrpc__sign_coordinator_response__free_unpacked(r, NULL);
	free(out);
	return refused;
}

static void test_handle(void)
{
	uint8_t chal[53], ann[200];
	struct ann a = base_ann();
	size_t alen = ann_write(ann, &a), siglen;
	char text[300];
	const char *why;

	randombytes_buf(chal, 32);
	memcpy(chal + 32, CS_CHALLENGE_TAG, 21);
	/* Allowed: real signatures. */
	why = sign_via(CS_POLICY_CHECK, chal, 53, true, true, false, 6, text,
		       &siglen);
	CHECK(!why && siglen == 65);
	why = sign_via(CS_POLICY_CHECK, ann, alen, true, false, false, 6,
		       text, &siglen);
	CHECK(!why && siglen == 64);
	/* Refused: the policy's SignerError, and its reason for the log. */
	why = sign_via(CS_POLICY_CHECK, (const uint8_t *)"hello", 5, true,
		       false, false, 6, text, &siglen);
	CHECK(why && siglen == 0);
	CHECK(strncmp(text, POL, strlen(POL)) == 0);
	CHECK(strstr(text, why) != NULL);
	/* The reason never quotes the message. */
	CHECK(strstr(text, "hello") == NULL);
	/* lnd's checks come first, with lnd's text. */
	why = sign_via(CS_POLICY_CHECK, (const uint8_t *)"hello", 5, true,
		       false, false, 5, text, &siglen);
	CHECK(!why);
	CHECK(strcmp(text, PFX "can't sign the hash: unable to derive "
		     "private key") == 0);
	why = sign_via(CS_POLICY_CHECK, (const uint8_t *)"hello", 5, true,
		       true, true, 6, text, &siglen);
	CHECK(!why);
	CHECK(strcmp(text, PFX "compact format can not be used for Schnorr "
		     "signatures") == 0);
	/* --policy=none: lnd's behaviour, the oracle. */
	why = sign_via(CS_POLICY_NONE, (const uint8_t *)"hello", 5, true,
		       false, false, 6, text, &siglen);
	CHECK(!why && siglen == 64);
	why = sign_via(CS_POLICY_NONE, (const uint8_t *)"hello", 5, true,
		       false, true, 6, text, &siglen);
	CHECK(!why && siglen == 64);
	/* cs_handle is lnd's rules only (the tests' lnd-like signer). */
	{
		enum cs_policy p;
		CHECK(cs_policy_parse(&p, "check") && p == CS_POLICY_CHECK);
		CHECK(cs_policy_parse(&p, "none") && p == CS_POLICY_NONE);
		CHECK(!cs_policy_parse(&p, "off") && !cs_policy_parse(&p, ""));
		CHECK(strcmp(cs_policy_str(CS_POLICY_CHECK), "check") == 0);
	}
}

int main(void)
{
	uint8_t priv[32] = { [31] = 7 }, opriv[32] = { [31] = 9 };
	struct cn_nodekey *o;

	cn_crypto_init();
	key = cn_nodekey_from_secret(priv);
	o = cn_nodekey_from_secret(opriv);
	cn_nodekey_pub(key, node_pub);
	cn_nodekey_pub(o, other_pub);
	cn_nodekey_free(o);
	test_table();
	test_ecdh_points();
	test_handle();
	cn_nodekey_free(key);
	return check_exit();
}
