/* BOLT 8 Appendix A vectors, read at run time from bolt8-vectors.json
 * (argv[1]): every success case with its intermediate values, every failure
 * case, and the message/rotation vectors.  No vector bytes live in here. */
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brontide/brontide.h"
#include "brontide/brontide_internal.h"
#include "check.h"
#include "common/common.h"
#include "json_min.h"

/* Values the handshake reported through the trace hook, by name. */
#define MAX_TRACE 64
static struct {
	const char *name;
	uint8_t v[64];
	size_t len;
} traced[MAX_TRACE];
static size_t num_traced;

static void on_trace(const char *name, const uint8_t *v, size_t len)
{
	if (num_traced == MAX_TRACE || len > sizeof(traced[0].v))
		abort();
	traced[num_traced].name = name;
	memcpy(traced[num_traced].v, v, len);
	traced[num_traced].len = len;
	num_traced++;
}

static const uint8_t *find_trace(const char *name, size_t *len)
{
	for (size_t i = 0; i < num_traced; i++) {
		if (strcmp(traced[i].name, name) == 0) {
			*len = traced[i].len;
			return traced[i].v;
		}
	}
	return NULL;
}

/* Decode member @key of @obj into @out (at most @max bytes); returns the
 * length, or aborts the test if missing or not hex. */
static size_t hexfield(const struct json_min *obj, const char *key,
		       uint8_t *out, size_t max)
{
	const char *s = json_min_str(obj, key);
	size_t len;

	if (!s || strlen(s) % 2 || strlen(s) / 2 > max ||
	    !hex_decode(out, strlen(s) / 2, s)) {
		fprintf(stderr, "vector field %s missing or bad\n", key);
		exit(1);
	}
	len = strlen(s) / 2;
	return len;
}

static void check_hex(const struct json_min *obj, const char *key,
		      const uint8_t *got, size_t len)
{
	uint8_t want[128];
	size_t wlen = hexfield(obj, key, want, sizeof(want));

	CHECK(wlen == len);
	if (wlen != len || memcmp(want, got, len) != 0) {
		char hex[257];
		fprintf(stderr, "  %s: got %s\n", key,
			hex_encode(hex, got, len < 128 ? len : 128));
		CHECK(!"value differs");
	}
}

/* The node key's side of the ECDH, as a signer would answer it. */
static void node_ecdh(uint8_t out[32], const uint8_t priv[32],
		      const uint8_t point[33])
{
	secp256k1_pubkey pk;

	if (!secp256k1_ec_pubkey_parse((const secp256k1_context *)cn_secp(),
				       &pk, point, 33) ||
	    !secp256k1_ecdh((const secp256k1_context *)cn_secp(), out, &pk,
			    priv, NULL, NULL))
		abort();
}

/* Keys every handshake vector carries; ls_pub must match ls_priv. */
struct keys {
	uint8_t ls_priv[32], ls_pub[33], e_priv[32], rs_pub[33];
	bool has_rs;
};

static void load_keys(const struct json_min *v, struct keys *k)
{
	secp256k1_pubkey pk;
	uint8_t ser[33];
	size_t len = sizeof(ser);

	num_traced = 0;
	hexfield(v, "ls_priv", k->ls_priv, 32);
	hexfield(v, "ls_pub", k->ls_pub, 33);
	hexfield(v, "e_priv", k->e_priv, 32);
	k->has_rs = json_min_str(v, "rs_pub") != NULL;
	if (k->has_rs)
		hexfield(v, "rs_pub", k->rs_pub, 33);
	CHECK(secp256k1_ec_pubkey_create((const secp256k1_context *)cn_secp(),
					 &pk, k->ls_priv));
	secp256k1_ec_pubkey_serialize((const secp256k1_context *)cn_secp(),
				      ser, &len, &pk, SECP256K1_EC_COMPRESSED);
	CHECK_MEM(ser, k->ls_pub, 33);
}

/* Compare every traced value named in @inter; returns how many matched. */
static size_t check_intermediates(const struct json_min *inter, bool all)
{
	size_t matched = 0;

	for (size_t i = 0; i < inter->len; i++) {
		const struct json_min *kid = json_min_at(inter, i);
		const uint8_t *v;
		size_t len;

		v = find_trace(kid->key, &len);
		if (!v) {
			if (all) {
				fprintf(stderr, "  no trace for %s\n", kid->key);
				CHECK(!"intermediate not traced");
			}
			continue;
		}
		check_hex(inter, kid->key, v, len);
		matched++;
	}
	return matched;
}

static void test_initiator_success(const struct json_min *v)
{
	struct keys k;
	struct brontide_hs *hs;
	struct brontide_cipher *c;
	uint8_t act1[50], act2[64], act3[66], ss[32];
	size_t act2_len;

	load_keys(v, &k);
	num_traced = 0;
	hs = brontide_hs_new(BRONTIDE_INITIATOR, k.ls_pub, k.rs_pub, k.e_priv);
	CHECK(hs != NULL);
	CHECK(brontide_hs_act1(hs, act1) == BRONTIDE_OK);
	check_hex(v, "act1_output", act1, sizeof(act1));
	act2_len = hexfield(v, "act2_input", act2, sizeof(act2));
	CHECK(brontide_hs_recv_act2(hs, act2, act2_len) == BRONTIDE_NEED_ECDH);
	node_ecdh(ss, k.ls_priv, brontide_hs_ecdh_point(hs));
	brontide_hs_ecdh_done(hs, ss);
	CHECK(brontide_hs_act3(hs, act3) == BRONTIDE_OK);
	check_hex(v, "act3_output", act3, sizeof(act3));
	CHECK_MEM(brontide_hs_remote_pub(hs), k.rs_pub, 33);

	c = brontide_hs_split(hs);
	CHECK(c != NULL);
	check_hex(v, "final_ck", brontide_cipher_sck(c), 32);
	check_hex(v, "final_sk", brontide_cipher_sk(c), 32);
	check_hex(v, "final_rk", brontide_cipher_test_rk(c), 32);
	check_hex(v, "final_ck", brontide_cipher_test_rck(c), 32);
	/* All intermediates must have been traced on the initiator. */
	CHECK(check_intermediates(json_min_get(v, "intermediate"), true) ==
	      json_min_get(v, "intermediate")->len);
	brontide_cipher_free(c);
	brontide_hs_free(hs);
}

static void test_responder_success(const struct json_min *v,
				   const struct json_min *inter)
{
	struct keys k;
	struct brontide_hs *hs;
	struct brontide_cipher *c;
	uint8_t act1[64], act2[50], act3[80], ss[32];
	size_t len;

	load_keys(v, &k);
	num_traced = 0;
	hs = brontide_hs_new(BRONTIDE_RESPONDER, k.ls_pub, NULL, k.e_priv);
	CHECK(hs != NULL);
	len = hexfield(v, "act1_input", act1, sizeof(act1));
	CHECK(brontide_hs_recv_act1(hs, act1, len) == BRONTIDE_NEED_ECDH);
	node_ecdh(ss, k.ls_priv, brontide_hs_ecdh_point(hs));
	brontide_hs_ecdh_done(hs, ss);
	CHECK(brontide_hs_act2(hs, act2) == BRONTIDE_OK);
	check_hex(v, "act2_output", act2, sizeof(act2));
	len = hexfield(v, "act3_input", act3, sizeof(act3));
	CHECK(brontide_hs_recv_act3(hs, act3, len) == BRONTIDE_OK);
	check_hex(v, "recovered_rs", brontide_hs_remote_pub(hs), 33);

	c = brontide_hs_split(hs);
	CHECK(c != NULL);
	check_hex(v, "final_ck", brontide_cipher_sck(c), 32);
	check_hex(v, "final_sk", brontide_cipher_sk(c), 32);
	check_hex(v, "final_rk", brontide_cipher_test_rk(c), 32);
	/* Same handshake seen from the other side: the responder computes
	 * most of the initiator's intermediates too. */
	CHECK(check_intermediates(inter, false) >= 14);
	brontide_cipher_free(c);
	brontide_hs_free(hs);
}

/* "ACT2_BAD_VERSION 1" -> "ACT2_BAD_VERSION" */
static void check_error(const struct json_min *v, enum brontide_err got)
{
	const char *want = json_min_str(v, "expected_error");
	size_t n;

	CHECK(want != NULL);
	if (!want)
		return;
	n = strcspn(want, " ");
	if (strlen(brontide_errname(got)) != n ||
	    strncmp(brontide_errname(got), want, n) != 0) {
		fprintf(stderr, "  %s: got %s, want %s\n",
			json_min_str(v, "name"), brontide_errname(got), want);
		CHECK(!"wrong error");
	}
}

static void test_initiator_failure(const struct json_min *v)
{
	struct keys k;
	struct brontide_hs *hs;
	uint8_t act1[50], act2[64];
	size_t len;

	load_keys(v, &k);
	hs = brontide_hs_new(BRONTIDE_INITIATOR, k.ls_pub, k.rs_pub, k.e_priv);
	CHECK(hs != NULL);
	CHECK(brontide_hs_act1(hs, act1) == BRONTIDE_OK);
	check_hex(v, "act1_output", act1, sizeof(act1));
	len = hexfield(v, "act2_input", act2, sizeof(act2));
	check_error(v, brontide_hs_recv_act2(hs, act2, len));
	brontide_hs_free(hs);
}

static void test_responder_failure(const struct json_min *v)
{
	struct keys k;
	struct brontide_hs *hs;
	uint8_t act1[64], act2[50], act3[80], ss[32];
	const struct json_min *fa = json_min_get(v, "failing_act");
	enum brontide_err err;
	size_t len;

	load_keys(v, &k);
	hs = brontide_hs_new(BRONTIDE_RESPONDER, k.ls_pub, NULL, k.e_priv);
	CHECK(hs != NULL && fa && fa->type == JSON_MIN_NUMBER);
	len = hexfield(v, "act1_input", act1, sizeof(act1));
	err = brontide_hs_recv_act1(hs, act1, len);
	if (err == BRONTIDE_NEED_ECDH) {
		/* The act one MAC can only be checked after the ECDH. */
		node_ecdh(ss, k.ls_priv, brontide_hs_ecdh_point(hs));
		brontide_hs_ecdh_done(hs, ss);
		err = brontide_hs_act2(hs, act2);
	}
	if (fa->num == 1) {
		check_error(v, err);
	} else {
		CHECK(err == BRONTIDE_OK);
		check_hex(v, "act2_output", act2, sizeof(act2));
		len = hexfield(v, "act3_input", act3, sizeof(act3));
		check_error(v, brontide_hs_recv_act3(hs, act3, len));
	}
	brontide_hs_free(hs);
}

static void test_messages(const struct json_min *v)
{
	const struct json_min *outputs = json_min_get(v, "outputs");
	const struct json_min *rots = json_min_get(v, "rotations");
	const struct json_min *parts = json_min_get(v, "first_message_parts");
	uint8_t sk[32], rk[32], ck[32], pt[64], out[128], dec[128];
	struct brontide_cipher *a, *b;
	size_t pt_len, outputs_seen = 0, rots_seen = 0;

	CHECK(outputs && rots && parts);
	hexfield(v, "sk", sk, 32);
	hexfield(v, "rk", rk, 32);
	hexfield(v, "ck", ck, 32);
	pt_len = hexfield(v, "plaintext", pt, sizeof(pt));
	a = brontide_cipher_new(sk, rk, ck);
	/* The receiving side, to check decryption and its rotation too. */
	b = brontide_cipher_new(rk, sk, ck);

	for (int i = 0; i < 1002; i++) {
		char idx[16];
		uint16_t len;

		CHECK(brontide_cipher_encrypt(a, out, pt, pt_len) == BRONTIDE_OK);
		snprintf(idx, sizeof(idx), "%d", i);
		if (json_min_get(outputs, idx)) {
			check_hex(outputs, idx, out, BRONTIDE_WIRE_SIZE(pt_len));
			outputs_seen++;
		}
		if (i == 0) {
			check_hex(parts, "len_ct", out, BRONTIDE_HDR_SIZE);
			check_hex(parts, "msg_ct", out + BRONTIDE_HDR_SIZE,
				  pt_len + BRONTIDE_MAC_SIZE);
		}
		for (size_t r = 0; r < rots->len; r++) {
			const struct json_min *rot = json_min_at(rots, r);
			const struct json_min *after = json_min_get(rot, "after_message");

			if (!after || after->num != i)
				continue;
			check_hex(rot, "new_ck", brontide_cipher_sck(a), 32);
			check_hex(rot, "new_sk", brontide_cipher_sk(a), 32);
			rots_seen++;
		}
		CHECK(brontide_cipher_decrypt_len(b, &len, out) == BRONTIDE_OK);
		CHECK(len == pt_len);
		CHECK(brontide_cipher_decrypt_body(b, dec, out + BRONTIDE_HDR_SIZE,
						   len) == BRONTIDE_OK);
		CHECK_MEM(dec, pt, pt_len);
	}
	CHECK(outputs_seen == outputs->len && outputs_seen >= 6);
	CHECK(rots_seen == rots->len && rots_seen >= 2);
	/* The receiver rotated in step with the sender. */
	CHECK_MEM(brontide_cipher_test_rk(b), brontide_cipher_sk(a), 32);
	CHECK_MEM(brontide_cipher_test_rck(b), brontide_cipher_sck(a), 32);
	brontide_cipher_free(a);
	brontide_cipher_free(b);
}

int main(int argc, char **argv)
{
	struct json_min *j;
	const struct json_min *ifail, *rfail, *isucc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s bolt8-vectors.json\n", argv[0]);
		return 2;
	}
	cn_crypto_init();
	j = json_min_load(argv[1]);
	if (!j) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 1;
	}
	brontide_test_set_trace(on_trace);

	isucc = json_min_get(j, "initiator_success");
	CHECK(isucc != NULL);
	test_initiator_success(isucc);
	test_responder_success(json_min_get(j, "responder_success"),
			       json_min_get(isucc, "intermediate"));

	ifail = json_min_get(j, "initiator_failures");
	rfail = json_min_get(j, "responder_failures");
	CHECK(ifail && ifail->len >= 4);
	CHECK(rfail && rfail->len >= 9);
	for (size_t i = 0; ifail && i < ifail->len; i++)
		test_initiator_failure(json_min_at(ifail, i));
	for (size_t i = 0; rfail && i < rfail->len; i++)
		test_responder_failure(json_min_at(rfail, i));

	test_messages(json_min_get(j, "message_encryption"));

	brontide_test_set_trace(NULL);
	json_min_free(j);
	return check_exit();
}
