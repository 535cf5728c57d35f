/* tls.cert names and renewal, like lnd (cert/selfsigned.go, tls_manager.go):
 * listener hosts, extra IPs/domains, every interface address for a wildcard
 * listener (read back from the certificate, no traffic), an expired
 * certificate renewed with the old pair kept as .old, a certificate that
 * lacks a name renewed only with autorefresh. */
#include "rpc/rpc.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char dir[] = "/tmp/cn-tls-XXXXXX";
static char cert[256], key[256], cert_old[256], key_old[256];

static X509 *load(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

static bool has_ip(X509 *x, const char *ip)
{
	uint8_t b[16];
	size_t len = 4;

	if (inet_pton(AF_INET, ip, b) != 1) {
		CHECK(inet_pton(AF_INET6, ip, b) == 1);
		len = 16;
	}
	return X509_check_ip(x, b, len, 0) == 1;
}

static bool has_dns(X509 *x, const char *name)
{
	return X509_check_host(x, name, 0,
			       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
				       X509_CHECK_FLAG_NO_WILDCARDS,
			       NULL) == 1;
}

/* "" for a missing file, so the comparisons below need no NULL checks. */
static char *slurp(const char *path)
{
	char *b = check_slurp(path, NULL);

	return b ? b : calloc(1, 1);
}

static void clean(void)
{
	unlink(cert);
	unlink(key);
	unlink(cert_old);
	unlink(key_old);
}

static bool exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Listener hosts and extras land in the SANs, with the lnd defaults. */
static void test_names(void)
{
	const char *hosts[] = { "127.0.0.2", "10.1.2.3", "signer.example",
				"fd00::5" };
	X509 *x;

	clean();
	CHECK(rpc_tls_ensure_names(cert, key, hosts, 4, false));
	x = load(cert);
	CHECK(x != NULL);
	CHECK(has_ip(x, "127.0.0.2"));
	CHECK(has_ip(x, "10.1.2.3"));
	CHECK(has_ip(x, "fd00::5"));
	CHECK(has_ip(x, "127.0.0.1"));
	CHECK(has_ip(x, "::1"));
	CHECK(has_dns(x, "localhost"));
	CHECK(has_dns(x, "signer.example"));
	CHECK(!has_ip(x, "127.0.0.3"));
	CHECK(!exists(cert_old));
	X509_free(x);
}

/* A wildcard listener: every interface address (getifaddrs, read here
 * independently) and the host name. */
static void test_wildcard(void)
{
	const char *hosts[] = { "0.0.0.0" };
	struct ifaddrs *ifa, *i;
	char host[256];
	int seen = 0;
	X509 *x;

	clean();
	CHECK(rpc_tls_ensure_names(cert, key, hosts, 1, false));
	x = load(cert);
	CHECK(x != NULL);
	CHECK(!has_ip(x, "0.0.0.0"));
	CHECK(getifaddrs(&ifa) == 0);
	for (i = ifa; i; i = i->ifa_next) {
		char ip[INET6_ADDRSTRLEN];
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			inet_ntop(AF_INET,
				  &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				  ip, sizeof(ip));
		else if (i->ifa_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				  ip, sizeof(ip));
		else
			continue;
		if (!has_ip(x, ip))
			fprintf(stderr, "interface address %s missing\n", ip);
		CHECK(has_ip(x, ip));
		seen++;
	}
	freeifaddrs(ifa);
	CHECK(seen > 0);
	CHECK(gethostname(host, sizeof(host)) == 0);
	CHECK(has_dns(x, host));
	X509_free(x);

	/* "::" does the same. */
	clean();
	hosts[0] = "::";
	CHECK(rpc_tls_ensure_names(cert, key, hosts, 1, false));
	x = load(cert);
	CHECK(x && has_dns(x, host) && has_ip(x, "127.0.0.1"));
	X509_free(x);
}

/* A pair as an old coldnode (or anyone) made it, valid from @from to @to
 * seconds from now, naming only 127.0.0.1. */
static void write_pair(long from, long to)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	FILE *f;

	CHECK(k && x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
				   MBSTRING_ASC,
				   (const unsigned char *)"old", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
				  "DNS:localhost,IP:127.0.0.1,IP:::1");
	CHECK(ext && X509_add_ext(x, ext, -1) == 1);
	X509_EXTENSION_free(ext);
	CHECK(X509_sign(x, k, EVP_sha256()) != 0);
	f = fopen(cert, "w");
	CHECK(f && PEM_write_X509(f, x) == 1);
	fclose(f);
	f = fopen(key, "w");
	CHECK(f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void test_expired(void)
{
	char *before, *beforekey, *after, *old, *oldkey;
	X509 *x;

	clean();
	/* Expired yesterday: renewed even without autorefresh (lnd). */
	write_pair(-30L * 86400, -86400);
	before = slurp(cert);
	beforekey = slurp(key);
	CHECK(rpc_tls_ensure(cert, key, NULL, 0));
	CHECK(exists(cert_old) && exists(key_old));
	old = slurp(cert_old);
	oldkey = slurp(key_old);
	after = slurp(cert);
	CHECK(strcmp(old, before) == 0);
	CHECK(strcmp(oldkey, beforekey) == 0);
	CHECK(strcmp(after, before) != 0);
	x = load(cert);
	CHECK(x && X509_cmp_current_time(X509_get0_notAfter(x)) > 0);
	X509_free(x);
	free(before);
	free(beforekey);
	free(after);
	free(old);
	free(oldkey);

	/* A valid one is left alone. */
	clean();
	write_pair(-3600, 86400);
	before = slurp(cert);
	CHECK(rpc_tls_ensure(cert, key, NULL, 0));
	after = slurp(cert);
	CHECK(strcmp(before, after) == 0 && !exists(cert_old));
	free(before);
	free(after);
}

/* A valid certificate lacking a configured name: kept (a warning) unless
 * autorefresh, then renewed with the name. */
static void test_outdated(void)
{
	const char *hosts[] = { "127.0.0.2" };
	char *before, *after;
	X509 *x;

	clean();
	write_pair(-3600, 86400);
	before = slurp(cert);
	CHECK(rpc_tls_ensure_names(cert, key, hosts, 1, false));
	after = slurp(cert);
	CHECK(strcmp(before, after) == 0 && !exists(cert_old));
	free(after);
	CHECK(rpc_tls_ensure_names(cert, key, hosts, 1, true));
	after = slurp(cert);
	CHECK(strcmp(before, after) != 0 && exists(cert_old));
	x = load(cert);
	CHECK(x && has_ip(x, "127.0.0.2"));
	X509_free(x);
	free(before);
	free(after);
	/* Now it covers them: nothing changes, even with autorefresh. */
	before = slurp(cert);
	CHECK(rpc_tls_ensure_names(cert, key, hosts, 1, true));
	after = slurp(cert);
	CHECK(strcmp(before, after) == 0);
	free(before);
	free(after);

	/* Unreadable certificate: refused, nothing overwritten. */
	clean();
	FILE *f = fopen(cert, "w");
	fputs("not a certificate\n", f);
	fclose(f);
	f = fopen(key, "w");
	fputs("x\n", f);
	fclose(f);
	CHECK(!rpc_tls_ensure_names(cert, key, hosts, 1, true));
	CHECK(!exists(cert_old));
}

int main(void)
{
	cn_crypto_init();
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cert, sizeof(cert), "%s/tls.cert", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	snprintf(cert_old, sizeof(cert_old), "%s/tls.cert.old", dir);
	snprintf(key_old, sizeof(key_old), "%s/tls.key.old", dir);
	test_names();
	test_wildcard();
	test_expired();
	test_outdated();
	clean();
	rmdir(dir);
	return check_exit();
}
