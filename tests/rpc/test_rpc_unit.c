/* Unit tests of the rpc module's pure cores: gRPC framer, grpc-timeout,
 * percent-encoding, RFC 3339 and lnd-compatible macaroons (bake, verify,
 * every refusal reason). */
#include "rpc/rpc_internal.h"
#include "check.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct collect {
	size_t n;
	size_t lens[8];
	uint8_t first[8];
	bool stop_after_first;
};

static bool collect_cb(void *arg, const uint8_t *msg, size_t len)
{
	struct collect *c = arg;
	if (c->n < 8) {
		c->lens[c->n] = len;
		c->first[c->n] = len ? msg[0] : 0;
	}
	c->n++;
	return !c->stop_after_first;
}

static void test_framer(void)
{
	struct rpc_framer f;
	struct collect c = { 0 };
	/* two messages (3 bytes, 0 bytes) fed one byte at a time */
	const uint8_t in[] = { 0, 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0 };
	rpc_framer_init(&f, 100);
	for (size_t i = 0; i < sizeof(in); i++)
		CHECK(rpc_framer_feed(&f, in + i, 1, collect_cb, &c) ==
		      RPC_FRAME_OK);
	CHECK(c.n == 2);
	CHECK(c.lens[0] == 3 && c.first[0] == 'a');
	CHECK(c.lens[1] == 0);
	CHECK(rpc_framer_at_boundary(&f));

	/* the same in one chunk */
	memset(&c, 0, sizeof(c));
	CHECK(rpc_framer_feed(&f, in, sizeof(in), collect_cb, &c) ==
	      RPC_FRAME_OK);
	CHECK(c.n == 2);

	/* a partial message is not at a boundary */
	CHECK(rpc_framer_feed(&f, in, 6, collect_cb, &c) == RPC_FRAME_OK);
	CHECK(!rpc_framer_at_boundary(&f));
	rpc_framer_clear(&f);

	/* a 4 GiB claim is refused from the prefix alone */
	const uint8_t huge[] = { 0, 0xff, 0xff, 0xff, 0xff };
	rpc_framer_init(&f, 100);
	CHECK(rpc_framer_feed(&f, huge, 5, collect_cb, &c) ==
	      RPC_FRAME_TOO_BIG);
	rpc_framer_clear(&f);

	/* exactly max is fine, max+1 is not */
	uint8_t pre[5];
	rpc_frame_prefix(pre, 101);
	rpc_framer_init(&f, 100);
	CHECK(rpc_framer_feed(&f, pre, 5, collect_cb, &c) == RPC_FRAME_TOO_BIG);
	rpc_framer_clear(&f);
	rpc_frame_prefix(pre, 100);
	rpc_framer_init(&f, 100);
	CHECK(rpc_framer_feed(&f, pre, 5, collect_cb, &c) == RPC_FRAME_OK);
	rpc_framer_clear(&f);

	/* compressed flag and junk flags */
	const uint8_t comp[] = { 1, 0, 0, 0, 1, 'x' };
	const uint8_t junk[] = { 7, 0, 0, 0, 1, 'x' };
	rpc_framer_init(&f, 100);
	CHECK(rpc_framer_feed(&f, comp, 6, collect_cb, &c) ==
	      RPC_FRAME_COMPRESSED);
	rpc_framer_clear(&f);
	rpc_framer_init(&f, 100);
	CHECK(rpc_framer_feed(&f, junk, 6, collect_cb, &c) ==
	      RPC_FRAME_BAD_FLAG);
	rpc_framer_clear(&f);

	/* a callback may stop the feed */
	memset(&c, 0, sizeof(c));
	c.stop_after_first = true;
	rpc_framer_init(&f, 100);
	CHECK(rpc_framer_feed(&f, in, sizeof(in), collect_cb, &c) ==
	      RPC_FRAME_STOPPED);
	CHECK(c.n == 1);
	rpc_framer_clear(&f);
}

/* The send queue hands out prefixed messages in chunks of any size, and
 * what it hands out frames back into the same messages. */
static void test_sendq(void)
{
	struct rpc_sendq q = { 0 };
	struct rpc_framer f;
	struct collect c = { 0 };
	uint8_t out[64], big[40];
	size_t n, total = 0;

	memset(big, 0xab, sizeof(big));
	CHECK(rpc_sendq_push(&q, (const uint8_t *)"hi", 2));
	CHECK(rpc_sendq_push(&q, NULL, 0));
	CHECK(rpc_sendq_push(&q, big, sizeof(big)));
	CHECK(q.bytes == 3 * RPC_FRAME_HDR + 2 + sizeof(big));
	rpc_framer_init(&f, 100);
	/* Odd chunk sizes cross message boundaries. */
	while ((n = rpc_sendq_pull(&q, out, 3)) > 0) {
		total += n;
		CHECK(rpc_framer_feed(&f, out, n, collect_cb, &c) ==
		      RPC_FRAME_OK);
	}
	CHECK(total == 3 * RPC_FRAME_HDR + 2 + sizeof(big));
	CHECK(q.bytes == 0 && q.head == NULL && q.tail == NULL);
	CHECK(c.n == 3);
	CHECK(c.lens[0] == 2 && c.first[0] == 'h');
	CHECK(c.lens[1] == 0);
	CHECK(c.lens[2] == sizeof(big) && c.first[2] == 0xab);
	CHECK(rpc_framer_at_boundary(&f));
	rpc_framer_clear(&f);

	/* Emptied, the queue takes more; clear drops the rest. */
	CHECK(rpc_sendq_pull(&q, out, sizeof(out)) == 0);
	CHECK(rpc_sendq_push(&q, big, sizeof(big)));
	CHECK(rpc_sendq_pull(&q, out, 7) == 7);
	CHECK(out[0] == 0 && be32_get(out + 1) == sizeof(big));
	CHECK(q.bytes == RPC_FRAME_HDR + sizeof(big) - 7);
	rpc_sendq_clear(&q);
	CHECK(q.bytes == 0 && q.head == NULL && q.tail == NULL);
	rpc_sendq_clear(&q);
}

static void test_timeout_and_percent(void)
{
	double s;
	CHECK(rpc_parse_grpc_timeout(&s, "10S", 3) && s == 10);
	CHECK(rpc_parse_grpc_timeout(&s, "1500m", 5) && s == 1.5);
	CHECK(rpc_parse_grpc_timeout(&s, "2H", 2) && s == 7200);
	CHECK(rpc_parse_grpc_timeout(&s, "99999999n", 9));
	CHECK(!rpc_parse_grpc_timeout(&s, "123456789S", 10)); /* 9 digits */
	CHECK(!rpc_parse_grpc_timeout(&s, "S", 1));
	CHECK(!rpc_parse_grpc_timeout(&s, "10x", 3));
	CHECK(!rpc_parse_grpc_timeout(&s, "-1S", 3));

	char *e = rpc_percent_encode("ok 100%\n\xc3\xa9");
	CHECK(e && strcmp(e, "ok 100%25%0A%C3%A9") == 0);
	rpc_percent_decode(e);
	CHECK(strcmp(e, "ok 100%\n\xc3\xa9") == 0);
	free(e);
	char bad[] = "50%zz%4";
	rpc_percent_decode(bad);
	CHECK(strcmp(bad, "50%zz%4") == 0);
	CHECK(strcmp(rpc_status_str(RPC_STATUS_PERMISSION_DENIED),
		     "PERMISSION_DENIED") == 0);
}

static void test_rfc3339(void)
{
	int64_t t;
	CHECK(rpc_parse_rfc3339(&t, "1970-01-01T00:00:00Z") && t == 0);
	CHECK(rpc_parse_rfc3339(&t, "2030-01-01T00:00:00Z") && t == 1893456000);
	CHECK(rpc_parse_rfc3339(&t, "2030-01-01T02:00:00.123456+02:00") &&
	      t == 1893456000);
	CHECK(rpc_parse_rfc3339(&t, "2029-12-31T19:00:00-05:00") &&
	      t == 1893456000);
	CHECK(!rpc_parse_rfc3339(&t, "2030-01-01 00:00:00Z"));
	CHECK(!rpc_parse_rfc3339(&t, "2030-01-01T00:00:00"));
	CHECK(!rpc_parse_rfc3339(&t, "2030-13-01T00:00:00Z"));
	CHECK(!rpc_parse_rfc3339(&t, "2030-01-01T00:00:00Zjunk"));
}

static enum rpc_status verify(const struct rpc_macaroon_svc *svc,
			      const uint8_t *m, size_t len,
			      const char *entity, const char *action,
			      const char *ip, int64_t now, char *why)
{
	struct rpc_perm p = { entity, action };
	return rpc_macaroon_verify(svc, why, 160, m, len, "/x.Y/Z", &p, 1, ip,
				   now);
}

static void test_macaroons(void)
{
	uint8_t key[32], key2[32];
	char why[160];
	uint8_t *m;
	size_t len;
	int64_t now = 1800000000; /* 2027 */
	const struct rpc_perm monitor[] = { { "info", "read" },
					    { "onchain", "read" } };

	randombytes_buf(key, 32);
	randombytes_buf(key2, 32);
	struct rpc_macaroon_svc *svc = rpc_macaroon_svc_from_key(key);
	struct rpc_macaroon_svc *other = rpc_macaroon_svc_from_key(key2);
	CHECK(svc && other);

	CHECK(rpc_macaroon_bake(svc, &m, &len, monitor, 2, NULL, 0));
	/* binary v2, location "lnd", identifier starting with 0x03 */
	CHECK(m[0] == 2 && m[1] == 1 && m[2] == 3 && memcmp(m + 3, "lnd", 3) == 0);
	CHECK(m[6] == 2 && m[8] == 3);
	struct rpc_mac dm;
	CHECK(rpc_mac_decode(&dm, m, len));
	CHECK(dm.num_caveats == 0 && dm.sig.len == 32);
	struct rpc_mac_ops *ops = rpc_mac_ops_parse(dm.id.p, dm.id.len);
	CHECK(ops && rpc_mac_ops_allows(ops, "info", "read") &&
	      rpc_mac_ops_allows(ops, "onchain", "read") &&
	      !rpc_mac_ops_allows(ops, "onchain", "write"));
	rpc_mac_ops_free(ops);

	CHECK(verify(svc, m, len, "info", "read", "127.0.0.1", now, why) ==
	      RPC_STATUS_OK);
	CHECK(verify(svc, m, len, "onchain", "write", "127.0.0.1", now, why) ==
	      RPC_STATUS_PERMISSION_DENIED);
	CHECK(strstr(why, "onchain:write") != NULL);
	/* another root key */
	CHECK(verify(other, m, len, "info", "read", NULL, now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	/* tampered: every single byte flip is refused, except in the
	 * location "lnd" (bytes 3..5), which the macaroon format leaves
	 * unsigned: it is a hint, never used for a decision. */
	for (size_t i = 0; i < len; i++) {
		if (i >= 3 && i <= 5)
			continue;
		m[i] ^= 0x01;
		CHECK(verify(svc, m, len, "info", "read", NULL, now, why) !=
		      RPC_STATUS_OK);
		m[i] ^= 0x01;
	}
	/* truncated / extended */
	CHECK(verify(svc, m, len - 1, "info", "read", NULL, now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	CHECK(verify(svc, m, 0, "info", "read", NULL, now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	free(m);

	/* caveats */
	const char *cav_ok[] = { "time-before 2030-01-01T00:00:00Z",
				 "ipaddr 127.0.0.1" };
	CHECK(rpc_macaroon_bake(svc, &m, &len, monitor, 2, cav_ok, 2));
	CHECK(rpc_mac_decode(&dm, m, len) && dm.num_caveats == 2);
	CHECK(verify(svc, m, len, "info", "read", "127.0.0.1", now, why) ==
	      RPC_STATUS_OK);
	CHECK(verify(svc, m, len, "info", "read", "127.0.0.2", now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	CHECK(strstr(why, "IP") != NULL);
	/* A dual-stack listener sees IPv4 peers as IPv4-mapped IPv6: the
	 * same address (lnd agrees); other IPv6 forms are not. */
	CHECK(verify(svc, m, len, "info", "read", "::ffff:127.0.0.1", now,
		     why) == RPC_STATUS_OK);
	CHECK(verify(svc, m, len, "info", "read", "::FFFF:7f00:1", now,
		     why) == RPC_STATUS_OK);
	CHECK(verify(svc, m, len, "info", "read", "::ffff:127.0.0.2", now,
		     why) == RPC_STATUS_UNAUTHENTICATED);
	CHECK(verify(svc, m, len, "info", "read", "::127.0.0.1", now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	CHECK(verify(svc, m, len, "info", "read", "::1", now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	CHECK(verify(svc, m, len, "info", "read", "not-an-ip", now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	CHECK(verify(svc, m, len, "info", "read", NULL, now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	CHECK(verify(svc, m, len, "info", "read", "127.0.0.1", 1893456000, why)
	      == RPC_STATUS_UNAUTHENTICATED);
	CHECK(strstr(why, "expired") != NULL);
	free(m);

	/* And the other way round: a caveat written in the mapped form. */
	const char *cav_mapped[] = { "ipaddr ::ffff:127.0.0.1" };
	CHECK(rpc_macaroon_bake(svc, &m, &len, monitor, 2, cav_mapped, 1));
	CHECK(verify(svc, m, len, "info", "read", "127.0.0.1", now, why) ==
	      RPC_STATUS_OK);
	CHECK(verify(svc, m, len, "info", "read", "127.0.0.2", now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	free(m);

	const char *cav_unknown[] = { "declared foo bar" };
	CHECK(rpc_macaroon_bake(svc, &m, &len, monitor, 2, cav_unknown, 1));
	CHECK(verify(svc, m, len, "info", "read", NULL, now, why) ==
	      RPC_STATUS_UNAUTHENTICATED);
	CHECK(strstr(why, "unknown caveat") != NULL);
	free(m);

	/* "uri:<method>" grants that method only */
	const struct rpc_perm uri[] = { { "uri", "/x.Y/Z" } };
	CHECK(rpc_macaroon_bake(svc, &m, &len, uri, 1, NULL, 0));
	CHECK(verify(svc, m, len, "info", "write", NULL, now, why) ==
	      RPC_STATUS_OK);
	struct rpc_perm p = { "info", "read" };
	CHECK(rpc_macaroon_verify(svc, why, sizeof(why), m, len, "/x.Y/Other",
				  &p, 1, NULL, now) ==
	      RPC_STATUS_PERMISSION_DENIED);
	free(m);

	rpc_macaroon_svc_free(svc);
	rpc_macaroon_svc_free(other);
	rpc_macaroon_svc_free(NULL);
}

/* A macaroon built by hand following the macaroon spec: proves the chain
 * (key derivation, per-caveat HMAC) independently of rpc_macaroon_bake. */
static void test_macaroon_by_hand(void)
{
	uint8_t root[32], k[32], sig[32];
	char why[160];
	const char *gen = "macaroons-key-generator";
	/* 0x03 + MacaroonId{ops=[Op{entity="info", actions=["read"]}]} */
	const uint8_t id[] = { 0x03, 0x1a, 0x0c, 0x0a, 0x04, 'i', 'n', 'f',
			       'o', 0x12, 0x04, 'r', 'e', 'a', 'd' };
	const char *cav = "time-before 2099-01-01T00:00:00Z";
	uint8_t mac[256];
	size_t n = 0;

	memset(root, 7, sizeof(root));
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const uint8_t *)gen, strlen(gen));
	crypto_auth_hmacsha256_update(&st, root, 32);
	crypto_auth_hmacsha256_final(&st, k);
	crypto_auth_hmacsha256_init(&st, k, 32);
	crypto_auth_hmacsha256_update(&st, id, sizeof(id));
	crypto_auth_hmacsha256_final(&st, sig);
	crypto_auth_hmacsha256_init(&st, sig, 32);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)cav, strlen(cav));
	crypto_auth_hmacsha256_final(&st, sig);

	mac[n++] = 2;
	mac[n++] = 2; /* identifier, no location */
	mac[n++] = sizeof(id);
	memcpy(mac + n, id, sizeof(id));
	n += sizeof(id);
	mac[n++] = 0;
	mac[n++] = 2;
	mac[n++] = (uint8_t)strlen(cav);
	memcpy(mac + n, cav, strlen(cav));
	n += strlen(cav);
	mac[n++] = 0;
	mac[n++] = 0;
	mac[n++] = 6;
	mac[n++] = 32;
	memcpy(mac + n, sig, 32);
	n += 32;

	struct rpc_macaroon_svc *svc = rpc_macaroon_svc_from_key(root);
	CHECK(verify(svc, mac, n, "info", "read", NULL, 1800000000, why) ==
	      RPC_STATUS_OK);
	CHECK(verify(svc, mac, n, "info", "write", NULL, 1800000000, why) ==
	      RPC_STATUS_PERMISSION_DENIED);
	rpc_macaroon_svc_free(svc);
}

/* A target of "[" and a port: refused as malformed before any lookup (the
 * bracket stripping once wrote a byte before the host buffer). */
static void test_client_bad_target(void)
{
	static const char *const bad[] = { "[:10009", "[::1:10009" };
	struct rpc_client_config cfg;

	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		struct rpc_client *c;
		uint8_t *resp;
		size_t rlen;
		char err[200] = "";

		rpc_client_config_default(&cfg);
		cfg.target = bad[i];
		cfg.timeout = 1;
		c = rpc_client_new(err, sizeof(err), &cfg);
		CHECK(c != NULL);
		CHECK(rpc_client_unary(c, &resp, &rlen, err, sizeof(err),
				       "/a.B/C", NULL, 0) ==
		      RPC_STATUS_UNAVAILABLE);
		CHECK(resp == NULL);
		CHECK(strstr(err, "bad target") != NULL);
		rpc_client_free(c);
	}
}

int main(void)
{
	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	test_framer();
	test_sendq();
	test_timeout_and_percent();
	test_rfc3339();
	test_macaroons();
	test_macaroon_by_hand();
	test_client_bad_target();
	return check_exit();
}
