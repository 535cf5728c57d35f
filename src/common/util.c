/*~ Small shared helpers: hex, clock, and the process-wide crypto contexts. */
#include "common/common.h"

#include <errno.h>
#include <pwd.h>
#include <secp256k1.h>
#include <sodium.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void hex_byte(char out[2], uint8_t b)
{
	static const char digits[] = "0123456789abcdef";

	out[0] = digits[b >> 4];
	out[1] = digits[b & 0xf];
}

char *hex_encode(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		hex_byte(out + 2 * i, in[i]);
	out[2 * len] = '\0';
	return out;
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool hex_decode(uint8_t *out, size_t len, const char *hex)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (!hex[2 * i] || !hex[2 * i + 1])
			return false;
		hi = hex_digit(hex[2 * i]);
		lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)((hi << 4) | lo);
	}
	return hex[2 * len] == '\0';
}

char *hex_encode_reversed(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		hex_byte(out + 2 * i, in[len - 1 - i]);
	out[2 * len] = '\0';
	return out;
}

bool hex_decode_reversed(uint8_t *out, size_t len, const char *hex)
{
	if (!hex_decode(out, len, hex))
		return false;
	for (size_t i = 0; i < len / 2; i++) {
		uint8_t t = out[i];
		out[i] = out[len - 1 - i];
		out[len - 1 - i] = t;
	}
	return true;
}

char *cn_expand_home(const char *path)
{
	const char *home = NULL, *rest;
	struct passwd pw, *res = NULL;
	char pwbuf[4096], user[256];
	char *out;

	if (path[0] != '~')
		return strdup(path);
	rest = strchr(path, '/');
	if (!rest)
		rest = path + strlen(path);
	if (rest == path + 1) {
		/* "~" or "~/x": $HOME, else the passwd entry (a service
		 * started without HOME must not get a relative path). */
		home = getenv("HOME");
		if ((!home || !*home) &&
		    getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf),
			       &res) == 0 && res)
			home = res->pw_dir;
	} else if ((size_t)(rest - path - 1) < sizeof(user)) {
		/* "~user/x", as a shell would. */
		memcpy(user, path + 1, (size_t)(rest - path - 1));
		user[rest - path - 1] = '\0';
		if (getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &res) == 0 &&
		    res)
			home = res->pw_dir;
	}
	if (!home || !*home) {
		errno = ENOENT;
		return NULL;
	}
	if (asprintf(&out, "%s%s", home, rest) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return out;
}

bool cn_split_hostport(char *host, size_t hostcap, uint16_t *port,
		       const char *hostport)
{
	const char *colon, *h = hostport;
	size_t hlen;
	char *end;
	unsigned long p;

	if (hostport[0] == '[') {
		const char *close = strchr(hostport, ']');
		if (!close || close[1] != ':')
			return false;
		h = hostport + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon)
			return false;
		hlen = (size_t)(colon - hostport);
		/* A bare IPv6 address needs brackets. */
		if (memchr(hostport, ':', hlen))
			return false;
	}
	if (hlen == 0 || hlen >= hostcap)
		return false;
	if (!colon[1])
		return false;
	p = strtoul(colon + 1, &end, 10);
	if (*end || p > 65535 || colon[1] == '-' || colon[1] == '+')
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return true;
}

double cn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static secp256k1_context *secp_ctx;

void cn_crypto_init(void)
{
	uint8_t seed[32];

	if (secp_ctx)
		return;
	if (sodium_init() < 0) {
		log_broken("MAIN", "libsodium failed to initialise");
		abort();
	}
	secp_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!secp_ctx)
		abort();
	/* Side-channel blinding, as libsecp256k1 recommends. */
	randombytes_buf(seed, sizeof(seed));
	if (!secp256k1_context_randomize(secp_ctx, seed))
		abort();
	sodium_memzero(seed, sizeof(seed));
}

const struct secp256k1_context_struct *cn_secp(void)
{
	return secp_ctx;
}

/* Prometheus' default buckets stretched down to 0.5 ms: an ECDH round trip
 * to a signer on the same host is about a millisecond. */
const double cn_hist_bounds[CN_HIST_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1,    0.25,  0.5,    1,     2.5,  5,     10,
};

void cn_hist_observe(struct cn_hist *h, double seconds)
{
	if (!(seconds >= 0))
		seconds = 0;
	h->count++;
	h->sum += seconds;
	for (size_t i = 0; i < CN_HIST_BUCKETS; i++) {
		if (seconds <= cn_hist_bounds[i]) {
			h->bucket[i]++;
			return;
		}
	}
}

bool cn_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k >= n) /* continuation bytes s[i+1..i+k] */
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}
