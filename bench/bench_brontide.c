/*~ Benchmark for src/brontide, each figure next to its limit measured in
 * the same run:
 *  1. handshakes/s (both sides, one process, local key) vs the raw
 *     libsecp256k1 work one handshake needs;
 *  2. encrypt+decrypt MB/s through brontide_cipher vs raw libsodium AEAD on
 *     the same buffers;
 *  3. 1000 idle brontide_conn pairs on loopback TCP: resident bytes each.
 * Usage: bench_brontide [seconds per figure, default 2] */
#include <arpa/inet.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "brontide/brontide.h"
#include "common/common.h"

#define SESSIONS 1000

static double secs = 2.0;
static uint8_t a_priv[32], a_pub[33], b_priv[32], b_pub[33];

static const secp256k1_context *ctx(void)
{
	return (const secp256k1_context *)cn_secp();
}

static void keypair(uint8_t priv[32], uint8_t pub[33])
{
	secp256k1_pubkey pk;
	size_t len = 33;

	do {
		randombytes_buf(priv, 32);
	} while (!secp256k1_ec_seckey_verify(ctx(), priv));
	if (!secp256k1_ec_pubkey_create(ctx(), &pk, priv))
		abort();
	secp256k1_ec_pubkey_serialize(ctx(), pub, &len, &pk,
				      SECP256K1_EC_COMPRESSED);
}

/* The key holder's ECDH (what a signer would do): parse + ecdh. */
static void node_ecdh(uint8_t out[32], const uint8_t priv[32],
		      const uint8_t point[33])
{
	secp256k1_pubkey pk;

	if (!secp256k1_ec_pubkey_parse(ctx(), &pk, point, 33) ||
	    !secp256k1_ecdh(ctx(), out, &pk, priv, NULL, NULL))
		abort();
}

/* The machine is shared and noisy: every figure is the best of ROUNDS
 * short slices, and the slices of a figure and of its limit alternate. */
#define ROUNDS 15

/* Seconds per call of @fn(@arg), over about @slice seconds. */
static double slice_time(void (*fn)(void *), void *arg, double slice)
{
	double start = cn_now(), now;
	long n = 0;

	do {
		for (int k = 0; k < 16; k++)
			fn(arg);
		n += 16;
		now = cn_now();
	} while (now - start < slice);
	return (now - start) / (double)n;
}

/* Best per-call time of each of @n functions, measured interleaved. */
static void best_times(double *t, void (*const *fns)(void *), void *arg,
		       size_t n)
{
	for (size_t i = 0; i < n; i++)
		t[i] = 1e9;
	for (int r = 0; r < ROUNDS; r++) {
		for (size_t i = 0; i < n; i++) {
			double x = slice_time(fns[i], arg, secs / ROUNDS);
			if (x < t[i])
				t[i] = x;
		}
	}
}

/* ---- 1. handshakes ------------------------------------------------------ */

static void one_handshake(void *unused)
{
	struct brontide_hs *i, *r;
	struct brontide_cipher *ci, *cr;
	uint8_t act1[50], act2[50], act3[66], ss[32];

	i = brontide_hs_new(BRONTIDE_INITIATOR, a_pub, b_pub, NULL);
	r = brontide_hs_new(BRONTIDE_RESPONDER, b_pub, NULL, NULL);
	if (brontide_hs_act1(i, act1) != BRONTIDE_OK ||
	    brontide_hs_recv_act1(r, act1, 50) != BRONTIDE_NEED_ECDH)
		abort();
	node_ecdh(ss, b_priv, brontide_hs_ecdh_point(r));
	brontide_hs_ecdh_done(r, ss);
	if (brontide_hs_act2(r, act2) != BRONTIDE_OK ||
	    brontide_hs_recv_act2(i, act2, 50) != BRONTIDE_NEED_ECDH)
		abort();
	node_ecdh(ss, a_priv, brontide_hs_ecdh_point(i));
	brontide_hs_ecdh_done(i, ss);
	if (brontide_hs_act3(i, act3) != BRONTIDE_OK ||
	    brontide_hs_recv_act3(r, act3, 66) != BRONTIDE_OK)
		abort();
	ci = brontide_hs_split(i);
	cr = brontide_hs_split(r);
	if (!ci || !cr)
		abort();
	brontide_cipher_free(ci);
	brontide_cipher_free(cr);
	brontide_hs_free(i);
	brontide_hs_free(r);
	sodium_memzero(ss, sizeof(ss));
}

static secp256k1_pubkey raw_pk;
static uint8_t raw_ser[33], raw_out[32];

static void raw_create(void *unused)
{
	if (!secp256k1_ec_pubkey_create(ctx(), &raw_pk, a_priv))
		abort();
}

static void raw_ecdh(void *unused)
{
	if (!secp256k1_ecdh(ctx(), raw_out, &raw_pk, b_priv, NULL, NULL))
		abort();
}

static void raw_parse(void *unused)
{
	if (!secp256k1_ec_pubkey_parse(ctx(), &raw_pk, raw_ser, 33))
		abort();
}

static void bench_handshake(void)
{
	static void (*const fns[])(void *) = { one_handshake, raw_create,
					       raw_ecdh, raw_parse };
	double t[4], t_limit;

	memcpy(raw_ser, b_pub, 33);
	raw_parse(NULL);
	best_times(t, fns, NULL, 4);
	/* One handshake, both sides: 2 ephemeral keys, 6 ECDH (es, ee, se on
	 * each side, the two node-key ones including the key holder's), 8
	 * pubkey parses (ls and re/rs on each side, plus the key holder's
	 * parse of the point, twice). */
	t_limit = 2 * t[1] + 6 * t[2] + 8 * t[3];
	printf("handshake (both sides, local key)\n");
	printf("  secp256k1 per call: pubkey_create %.1f us, ecdh %.1f us, parse %.2f us\n",
	       t[1] * 1e6, t[2] * 1e6, t[3] * 1e6);
	printf("  %-40s %10.0f /s\n", "brontide handshakes", 1 / t[0]);
	printf("  %-40s %10.0f /s\n", "secp256k1 limit (2 gen+6 ecdh+8 parse)",
	       1 / t_limit);
	printf("  %-40s %10.3f\n", "ratio", t_limit / t[0]);
}

/* ---- 2. throughput ------------------------------------------------------ */

struct tp {
	struct brontide_cipher *a, *b;
	uint8_t *msg, *wire, *out;
	size_t len;
	uint8_t sk[32], npub[12];
};

/* One message through brontide: frame, then header and body decrypt. */
static void tp_brontide(void *arg)
{
	struct tp *t = arg;
	uint16_t l;

	if (brontide_cipher_encrypt(t->a, t->wire, t->msg, t->len) != BRONTIDE_OK ||
	    brontide_cipher_decrypt_len(t->b, &l, t->wire) != BRONTIDE_OK ||
	    brontide_cipher_decrypt_body(t->b, t->out, t->wire + BRONTIDE_HDR_SIZE,
					 l) != BRONTIDE_OK)
		abort();
}

/* Raw libsodium: one AEAD encrypt + decrypt of the body, same buffers. */
static void tp_raw_body(void *arg)
{
	struct tp *t = arg;

	t->npub[4]++;
	crypto_aead_chacha20poly1305_ietf_encrypt(t->wire + BRONTIDE_HDR_SIZE,
						  NULL, t->msg, t->len, NULL, 0,
						  NULL, t->npub, t->sk);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(
		    t->out, NULL, NULL, t->wire + BRONTIDE_HDR_SIZE, t->len + 16,
		    NULL, 0, t->npub, t->sk) != 0)
		abort();
}

/* Raw libsodium: the 2-byte length AEAD BOLT 8 adds to every message. */
static void tp_raw_hdr(void *arg)
{
	struct tp *t = arg;

	t->npub[4]++;
	crypto_aead_chacha20poly1305_ietf_encrypt(t->wire, NULL, t->msg, 2, NULL,
						  0, NULL, t->npub, t->sk);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(t->out, NULL, NULL,
						      t->wire, 2 + 16, NULL, 0,
						      t->npub, t->sk) != 0)
		abort();
}

static void bench_throughput(size_t len)
{
	static void (*const fns[])(void *) = { tp_brontide, tp_raw_body,
					       tp_raw_hdr };
	struct tp t = { .len = len };
	uint8_t rk[32], ck[32];
	double tm[3];

	t.msg = malloc(len);
	t.wire = malloc(BRONTIDE_WIRE_SIZE(len));
	t.out = malloc(len + 1);
	randombytes_buf(t.sk, 32);
	randombytes_buf(rk, 32);
	randombytes_buf(ck, 32);
	randombytes_buf(t.msg, len);
	memset(t.npub, 0, sizeof(t.npub));
	t.a = brontide_cipher_new(t.sk, rk, ck);
	t.b = brontide_cipher_new(rk, t.sk, ck);

	best_times(tm, fns, &t, 3);
	/* bound: what even a zero-overhead implementation gets, since BOLT 8
	 * encrypts the length with its own AEAD call. */
	printf("  %6zu B   %8.1f MB/s   %8.1f MB/s   %6.3f   %6.3f   %6.3f\n",
	       len, len / tm[0] / 1e6, len / tm[1] / 1e6, tm[1] / tm[0],
	       tm[1] / (tm[1] + tm[2]), (tm[1] + tm[2]) / tm[0]);
	brontide_cipher_free(t.a);
	brontide_cipher_free(t.b);
	free(t.msg);
	free(t.wire);
	free(t.out);
}

/* ---- 3. idle sessions --------------------------------------------------- */

struct sess {
	struct brontide_conn *c;
	const uint8_t *priv;
	bool ready;
};

static int num_ready, num_closed;

static void s_ecdh(void *arg, struct brontide_conn *c, const uint8_t point[33])
{
	struct sess *s = arg;
	uint8_t ss[32];

	node_ecdh(ss, s->priv, point);
	brontide_conn_ecdh_done(c, true, ss);
	sodium_memzero(ss, sizeof(ss));
}

static void s_ready(void *arg, struct brontide_conn *c, const uint8_t pub[33])
{
	((struct sess *)arg)->ready = true;
	num_ready++;
}

static void s_recv(void *arg, struct brontide_conn *c, const uint8_t *m,
		   size_t len)
{
}

static void s_closed(void *arg, struct brontide_conn *c,
		     enum brontide_err err, const char *detail)
{
	fprintf(stderr, "session closed: %s\n", brontide_strerror(err));
	((struct sess *)arg)->c = NULL;
	num_closed++;
}

static const struct brontide_conn_cbs sess_cbs = {
	.ecdh = s_ecdh, .ready = s_ready, .recv = s_recv, .closed = s_closed,
};

static long vm_rss(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

static void bench_sessions(void)
{
	static struct sess sess[2 * SESSIONS];
	struct ev_loop *loop = ev_default_loop(0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	struct rlimit rl;
	long before, after;
	double start, t;
	int l, opened = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * SESSIONS + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(l, 64) != 0 || getsockname(l, (struct sockaddr *)&sa, &salen))
		abort();

	before = vm_rss();
	start = cn_now();
	for (int k = 0; k < SESSIONS; k++) {
		int fi = socket(AF_INET, SOCK_STREAM, 0), fr;

		if (fi < 0 || connect(fi, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    (fr = accept(l, NULL, NULL)) < 0) {
			perror("socket/connect/accept (raise ulimit -n?)");
			break;
		}
		fcntl(fi, F_SETFL, fcntl(fi, F_GETFL) | O_NONBLOCK);
		fcntl(fr, F_SETFL, fcntl(fr, F_GETFL) | O_NONBLOCK);
		sess[2 * k].priv = a_priv;
		sess[2 * k + 1].priv = b_priv;
		sess[2 * k].c = brontide_conn_new(loop, fi, BRONTIDE_INITIATOR,
						  a_pub, b_pub, 30, &sess_cbs,
						  &sess[2 * k]);
		sess[2 * k + 1].c = brontide_conn_new(loop, fr, BRONTIDE_RESPONDER,
						      b_pub, NULL, 30, &sess_cbs,
						      &sess[2 * k + 1]);
		opened++;
	}
	while (num_ready + num_closed < 2 * opened)
		ev_run(loop, EVRUN_ONCE);
	t = cn_now() - start;
	after = vm_rss();

	printf("idle sessions on loopback TCP\n");
	printf("  %-34s %10d (%d failed)\n", "sessions (conn pairs) ready",
	       num_ready / 2, num_closed);
	printf("  %-34s %10.0f /s (incl. connect/accept)\n",
	       "TCP handshakes, all concurrent", opened / t);
	printf("  %-34s %10ld -> %ld\n", "VmRSS bytes before -> after", before,
	       after);
	printf("  %-34s %10ld (both ends: 2 brontide_conn)\n",
	       "bytes per session", opened ? (after - before) / opened : 0);

	for (int k = 0; k < 2 * opened; k++)
		brontide_conn_free(sess[k].c);
	close(l);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		secs = atof(argv[1]);
	cn_crypto_init();
	keypair(a_priv, a_pub);
	keypair(b_priv, b_pub);

	bench_handshake();
	printf("encrypt+decrypt throughput (brontide frame vs raw AEAD on the body)\n");
	printf("  %8s   %13s   %13s   %6s   %6s   %6s\n", "msg", "brontide",
	       "raw body AEAD", "ratio", "bound", "of bound");
	bench_throughput(64);
	bench_throughput(1024);
	bench_throughput(BRONTIDE_MAX_MSG);
	bench_sessions();
	return 0;
}
