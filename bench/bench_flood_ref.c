/* The physical limits the flood benchmark compares against, measured in
 * the same run: the server side of one TLS 1.3 handshake with coldnode's
 * own TLS setup (rpc_tls_server_ctx, its ECDSA P-256 certificate), and one
 * BOLT 8 ECDH (the responder's first ECDH, on act one).  CPU time of this
 * thread only (CLOCK_THREAD_CPUTIME_ID); the client side of each TLS
 * handshake runs in the same thread but is not counted.
 *
 * Usage: bench_flood_ref DIR [N]   (DIR: where the cert and key are made)
 * Prints one JSON line: {"tls_server_us":..,"ecdh_us":..,"n":..}.
 */
#include "rpc/rpc_internal.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One handshake over memory BIOs; returns the server's CPU seconds. */
static double one_handshake(SSL_CTX *sctx, SSL_CTX *cctx)
{
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	BIO *sb, *cb;
	double spent = 0;
	if (!s || !c || !BIO_new_bio_pair(&sb, 1 << 16, &cb, 1 << 16))
		abort();
	SSL_set_bio(s, sb, sb);
	SSL_set_bio(c, cb, cb);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	bool sdone = false, cdone = false;
	for (int i = 0; i < 100 && !(sdone && cdone); i++) {
		if (!cdone) {
			int r = SSL_do_handshake(c);
			if (r == 1)
				cdone = true;
			else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
				abort();
		}
		if (!sdone) {
			double t0 = cpu_now();
			int r = SSL_do_handshake(s);
			spent += cpu_now() - t0;
			if (r == 1)
				sdone = true;
			else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
				abort();
		}
	}
	if (!sdone || !cdone)
		abort();
	SSL_free(s);
	SSL_free(c);
	return spent;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [N]\n", argv[0]);
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 2000;
	char cert[512], key[512];
	snprintf(cert, sizeof(cert), "%s/tls.cert", argv[1]);
	snprintf(key, sizeof(key), "%s/tls.key", argv[1]);
	cn_crypto_init();
	log_set_level(NULL, LOG_UNUSUAL);
	if (!rpc_tls_ensure(cert, key, NULL, 0))
		return 1;
	SSL_CTX *sctx = rpc_tls_server_ctx(cert, key);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	if (!sctx || !cctx)
		return 1;
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	static const unsigned char alpn[] = { 2, 'h', '2' };
	SSL_CTX_set_alpn_protos(cctx, alpn, sizeof(alpn));
	/* No resumption: a flood gets full handshakes. */
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF);

	for (int i = 0; i < 20; i++)
		one_handshake(sctx, cctx); /* warm up */
	double tls = 0;
	for (int i = 0; i < n; i++)
		tls += one_handshake(sctx, cctx);

	uint8_t priv[32], pub[33], secret[32];
	memset(priv, 0x11, sizeof(priv));
	struct cn_nodekey *k = cn_nodekey_from_secret(priv);
	if (!k)
		return 1;
	cn_nodekey_pub(k, pub);
	double t0 = cpu_now();
	for (int i = 0; i < n * 5; i++)
		if (!cn_nodekey_ecdh(k, secret, pub))
			abort();
	double ecdh = (cpu_now() - t0) / (n * 5);
	cn_nodekey_free(k);
	printf("{\"tls_server_us\": %.1f, \"ecdh_us\": %.1f, \"n\": %d}\n",
	       tls / n * 1e6, ecdh * 1e6, n);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return 0;
}
