/*~ tls: the RPC's TLS material and OpenSSL contexts.  Like lnd, the node
 * makes its own self-signed ECDSA P-256 certificate on first start, with
 * the names and addresses it serves in the subjectAltName, and clients pin
 * that file.  HTTP/2 needs ALPN "h2" (RFC 9113 §3.2: "The "h2" string
 * identifies the protocol where HTTP/2 uses TLS").
 */
#include "rpc/rpc_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBSYS "RPC"

static void log_ssl_err(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();
	ERR_error_string_n(e, buf, sizeof(buf));
	log_unusual(SUBSYS, "%s: %s", what, e ? buf : "unknown error");
	ERR_clear_error();
}

static bool add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return false;
	bool ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * The names a certificate must carry, as lnd's cert/selfsigned.go picks
 * them: localhost, 127.0.0.1 and ::1 always; each listener's host; every
 * interface address (getifaddrs) and the host name when a listener is on
 * 0.0.0.0 or :: (lnd adds them always, unless --tlsdisableautofill; we
 * only when a client could come from outside); extra IPs and domains.
 */
struct tls_names {
	/* IP SANs in binary (4 or 16 bytes), DNS SANs as text; owned. */
	struct {
		uint8_t b[16];
		int len;
	} *ip;
	size_t nip;
	char **dns;
	size_t ndns;
};

static void names_free(struct tls_names *n)
{
	for (size_t i = 0; i < n->ndns; i++)
		free(n->dns[i]);
	free(n->dns);
	free(n->ip);
}

static bool add_ip(struct tls_names *n, const void *b, int len)
{
	void *nv;

	for (size_t i = 0; i < n->nip; i++)
		if (n->ip[i].len == len && memcmp(n->ip[i].b, b, len) == 0)
			return true;
	nv = realloc(n->ip, (n->nip + 1) * sizeof(*n->ip));
	if (!nv)
		return false;
	n->ip = nv;
	memcpy(n->ip[n->nip].b, b, len);
	n->ip[n->nip++].len = len;
	return true;
}

static bool add_dns(struct tls_names *n, const char *name)
{
	char **nv;

	/* A comma would split the SAN list; 253 is DNS's limit. */
	if (!*name || strchr(name, ',') || strlen(name) > 253)
		return true;
	for (size_t i = 0; i < n->ndns; i++)
		if (strcasecmp(n->dns[i], name) == 0)
			return true;
	nv = realloc(n->dns, (n->ndns + 1) * sizeof(*n->dns));
	if (!nv)
		return false;
	n->dns = nv;
	n->dns[n->ndns] = strdup(name);
	return n->dns[n->ndns++] != NULL;
}

/* A host: IP literal, wildcard or name.  *wild set for 0.0.0.0 / :: . */
static bool add_host(struct tls_names *n, const char *h, bool *wild)
{
	uint8_t b[16];

	if (inet_pton(AF_INET, h, b) == 1) {
		if (memcmp(b, "\0\0\0\0", 4) == 0) {
			*wild = true;
			return true;
		}
		return add_ip(n, b, 4);
	}
	if (inet_pton(AF_INET6, h, b) == 1) {
		if (memcmp(b, in6addr_any.s6_addr, 16) == 0) {
			*wild = true;
			return true;
		}
		return add_ip(n, b, 16);
	}
	return add_dns(n, h);
}

static bool add_interfaces(struct tls_names *n)
{
	struct ifaddrs *ifa, *i;
	char host[256];
	bool ok = true;

	if (getifaddrs(&ifa) != 0) {
		log_unusual(SUBSYS, "getifaddrs: %s", strerror(errno));
		return false;
	}
	for (i = ifa; i && ok; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			ok = add_ip(n, &((struct sockaddr_in *)i->ifa_addr)
					       ->sin_addr, 4);
		else if (i->ifa_addr->sa_family == AF_INET6)
			ok = add_ip(n, &((struct sockaddr_in6 *)i->ifa_addr)
					       ->sin6_addr, 16);
	}
	freeifaddrs(ifa);
	/* lnd puts the host name first; a failing gethostname is not fatal
	 * (lnd falls back to localhost). */
	if (ok && gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		ok = add_dns(n, host);
	}
	return ok;
}

static bool names_build(struct tls_names *n, const char *const *hosts,
			size_t num_hosts)
{
	static const uint8_t v4lo[4] = { 127, 0, 0, 1 };
	bool wild = false;

	memset(n, 0, sizeof(*n));
	if (!add_dns(n, "localhost") || !add_ip(n, v4lo, 4) ||
	    !add_ip(n, in6addr_loopback.s6_addr, 16))
		return false;
	for (size_t i = 0; i < num_hosts; i++)
		if (hosts[i] && !add_host(n, hosts[i], &wild))
			return false;
	return !wild || add_interfaces(n);
}

static void ip_text(char *buf, size_t cap, const uint8_t *b, int len)
{
	inet_ntop(len == 4 ? AF_INET : AF_INET6, b, buf, (socklen_t)cap);
}

/* "DNS:localhost,IP:127.0.0.1,..." */
static char *san_list(const struct tls_names *n)
{
	size_t cap = 16, len = 0;
	char *s = malloc(cap), item[300];

	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < n->ndns + n->nip; i++) {
		if (i < n->ndns) {
			snprintf(item, sizeof(item), "DNS:%s", n->dns[i]);
		} else {
			char ip[INET6_ADDRSTRLEN];
			ip_text(ip, sizeof(ip), n->ip[i - n->ndns].b,
				n->ip[i - n->ndns].len);
			snprintf(item, sizeof(item), "IP:%s", ip);
		}
		size_t need = len + strlen(item) + 2;
		if (need > cap) {
			char *ns = realloc(s, need * 2);
			if (!ns) {
				free(s);
				return NULL;
			}
			s = ns;
			cap = need * 2;
		}
		len += (size_t)sprintf(s + len, "%s%s", len ? "," : "", item);
	}
	return s;
}

/* The first wanted name @x does not carry, in @buf; NULL if it has all. */
static const char *missing_name(char *buf, size_t cap, X509 *x,
				const struct tls_names *n)
{
	for (size_t i = 0; i < n->nip; i++) {
		if (X509_check_ip(x, n->ip[i].b, (size_t)n->ip[i].len, 0) != 1) {
			ip_text(buf, cap, n->ip[i].b, n->ip[i].len);
			return buf;
		}
	}
	for (size_t i = 0; i < n->ndns; i++) {
		if (X509_check_host(x, n->dns[i], 0,
				    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
					    X509_CHECK_FLAG_NO_WILDCARDS,
				    NULL) != 1) {
			snprintf(buf, cap, "%s", n->dns[i]);
			return buf;
		}
	}
	return NULL;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static bool write_pem(const char *path, bool is_key, EVP_PKEY *key, X509 *x)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, is_key ? 0600 : 0644);
	if (fd < 0) {
		log_unusual(SUBSYS, "cannot create %s: %s", path,
			    strerror(errno));
		return false;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return false;
	}
	bool ok = is_key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
						NULL) == 1
			 : PEM_write_X509(f, x) == 1;
	if (fflush(f) != 0 || fsync(fd) != 0)
		ok = false;
	fclose(f);
	if (!ok)
		log_unusual(SUBSYS, "cannot write %s", path);
	return ok;
}

/* A new pair for @n at the two paths; one log line, with @why (NULL for
 * a first start). */
static bool generate(const char *cert_path, const char *key_path,
		     const struct tls_names *n, const char *why)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	char *san = NULL;
	bool ok = false;

	key = EVP_EC_gen("P-256");
	x = X509_new();
	san = san_list(n);
	if (!key || !x || !san) {
		log_ssl_err("generating TLS key");
		goto out;
	}
	uint8_t serial[16];
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	if (!sn || X509_set_serialNumber(x, sn) != 1) {
		ASN1_INTEGER_free(sn);
		goto out;
	}
	ASN1_INTEGER_free(sn);
	X509_set_version(x, 2);
	/* lnd: valid from an hour ago for 14 months. */
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 14L * 30 * 24 * 3600);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   (const unsigned char *)"coldnode autogenerated cert",
				   -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1,
				   0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, key);
	/* Self-signed and used as its own trust anchor by clients, so it is
	 * a CA as lnd's is. */
	if (!add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(x, NID_key_usage,
		     "critical,digitalSignature,keyEncipherment,keyCertSign") ||
	    !add_ext(x, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(x, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, NID_subject_alt_name, san)) {
		log_ssl_err("building TLS certificate");
		goto out;
	}
	if (X509_sign(x, key, EVP_sha256()) == 0) {
		log_ssl_err("signing TLS certificate");
		goto out;
	}
	ok = write_pem(key_path, true, key, NULL) &&
	     write_pem(cert_path, false, NULL, x);
	if (ok && why)
		log_unusual(SUBSYS, "TLS certificate %s %s: made a new one "
			    "(%s), the old pair is kept as %s.old and %s.old",
			    cert_path, why, san, cert_path, key_path);
	else if (ok)
		log_info(SUBSYS, "wrote new TLS certificate %s (%s)",
			 cert_path, san);
	else {
		unlink(key_path);
		unlink(cert_path);
	}
out:
	free(san);
	X509_free(x);
	EVP_PKEY_free(key);
	return ok;
}

/* Move the pair aside as <path>.old (replacing an older .old), like a
 * user would before deleting it: a client pinned to it can be fixed by
 * hand. */
static bool keep_old(const char *cert_path, const char *key_path)
{
	char oc[4096], ok[4096];

	if (snprintf(oc, sizeof(oc), "%s.old", cert_path) >= (int)sizeof(oc) ||
	    snprintf(ok, sizeof(ok), "%s.old", key_path) >= (int)sizeof(ok))
		return false;
	if (rename(cert_path, oc) != 0) {
		log_unusual(SUBSYS, "cannot rename %s: %s", cert_path,
			    strerror(errno));
		return false;
	}
	if (rename(key_path, ok) != 0) {
		log_unusual(SUBSYS, "cannot rename %s: %s", key_path,
			    strerror(errno));
		if (rename(oc, cert_path) != 0)
			log_unusual(SUBSYS, "cannot restore %s", cert_path);
		return false;
	}
	return true;
}

bool rpc_tls_ensure(const char *cert_path, const char *key_path,
		    const char *const *hosts, size_t num_hosts)
{
	return rpc_tls_ensure_names(cert_path, key_path, hosts, num_hosts,
				    false);
}

bool rpc_tls_ensure_names(const char *cert_path, const char *key_path,
			  const char *const *hosts, size_t num_hosts,
			  bool autorefresh)
{
	struct stat st;
	bool have_cert = stat(cert_path, &st) == 0;
	bool have_key = stat(key_path, &st) == 0;
	struct tls_names n;
	char why[300], miss[256];
	const char *m;
	bool ok = false;
	X509 *x;

	if (have_cert != have_key) {
		log_unusual(SUBSYS, "only one of %s and %s exists: remove it "
			    "to make a new pair", cert_path, key_path);
		return false;
	}
	if (!names_build(&n, hosts, num_hosts)) {
		log_unusual(SUBSYS, "cannot list the TLS certificate's names");
		names_free(&n);
		return false;
	}
	if (!have_cert) {
		ok = generate(cert_path, key_path, &n, NULL);
		names_free(&n);
		return ok;
	}
	x = read_cert(cert_path);
	if (!x) {
		log_ssl_err("reading the TLS certificate");
		names_free(&n);
		return false;
	}
	why[0] = '\0';
	/* lnd (tls_manager.go) renews an expired cert at startup always,
	 * an outdated one only with --tlsautorefresh. */
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		BIO *b = BIO_new(BIO_s_mem());
		char date[64] = "?";
		if (b && ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1) {
			int l = BIO_read(b, date, sizeof(date) - 1);
			date[l > 0 ? l : 0] = '\0';
		}
		BIO_free(b);
		snprintf(why, sizeof(why), "expired %s", date);
	} else if ((m = missing_name(miss, sizeof(miss), x, &n)) != NULL) {
		if (autorefresh)
			snprintf(why, sizeof(why), "does not name %s", m);
		else
			log_unusual(SUBSYS, "TLS certificate %s does not name "
				    "%s: clients dialing it will fail "
				    "verification (--tlsautorefresh makes a "
				    "new one at startup)", cert_path, m);
	}
	X509_free(x);
	if (!why[0]) {
		names_free(&n);
		return true;
	}
	if (keep_old(cert_path, key_path))
		ok = generate(cert_path, key_path, &n, why);
	names_free(&n);
	return ok;
}

static int alpn_select(SSL *ssl, const unsigned char **out,
		       unsigned char *outlen, const unsigned char *in,
		       unsigned int inlen, void *arg)
{
	/* Only h2: gRPC has no HTTP/1.1 fallback. */
	if (nghttp2_select_next_protocol((unsigned char **)out, outlen, in,
					 inlen) != 1)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

/* TLS 1.2 suites: ECDHE with an AEAD only, lnd's list (lnd/cert: "TLS
 * cipher suites ... ECDHE ... GCM / CHACHA20_POLY1305"); no CBC, no SHA-1
 * MAC, no static RSA.  TLS 1.3's suites are all AEAD. */
#define TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:" \
		      "ECDHE-ECDSA-AES256-GCM-SHA384:" \
		      "ECDHE-ECDSA-CHACHA20-POLY1305:" \
		      "ECDHE-RSA-AES128-GCM-SHA256:" \
		      "ECDHE-RSA-AES256-GCM-SHA384:" \
		      "ECDHE-RSA-CHACHA20-POLY1305"

/* Options both ends share.  SSL_OP_CLEANSE_PLAINTEXT: OpenSSL wipes the
 * plaintext it decrypted into its read buffer once it was handed to us
 * (the signer's traffic carries ECDH results). */
static bool ctx_common(SSL_CTX *ctx)
{
	/* RFC 9113 §9.2: "Deployments of HTTP/2 that use TLS 1.2 MUST
	 * disable compression ... renegotiation". */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
			    SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CLEANSE_PLAINTEXT);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		log_ssl_err("setting the TLS 1.2 cipher suites");
		return false;
	}
	return true;
}

/* The TLS key gives whoever reads it the node's RPC identity: like the
 * node key, refused when group or others can access it. */
static bool key_file_private(const char *key_path)
{
	struct stat st;
	if (stat(key_path, &st) != 0) {
		log_unusual("RPC", "cannot stat TLS key %s: %s", key_path,
			    strerror(errno));
		return false;
	}
	if (st.st_mode & 077) {
		log_unusual("RPC", "TLS key %s must not be accessible by "
			    "group or others (mode %03o; chmod 600)", key_path,
			    (unsigned)(st.st_mode & 0777));
		return false;
	}
	return true;
}

SSL_CTX *rpc_tls_server_ctx(const char *cert_path, const char *key_path)
{
	if (!key_file_private(key_path))
		return NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		log_ssl_err("SSL_CTX_new");
		return NULL;
	}
	if (!ctx_common(ctx)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			 SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_err("loading TLS cert/key");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return ctx;
}

SSL_CTX *rpc_tls_client_ctx(const char *cert_path)
{
	static const unsigned char alpn[] = "\x02h2";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		log_ssl_err("SSL_CTX_new");
		return NULL;
	}
	if (!ctx_common(ctx)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Pin: the node's own cert is the only trust anchor. */
	if (SSL_CTX_load_verify_locations(ctx, cert_path, NULL) != 1) {
		log_ssl_err("loading TLS cert to verify the server");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
	return ctx;
}
