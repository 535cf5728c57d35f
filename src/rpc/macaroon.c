/*~ macaroon: lnd-compatible macaroons (binary v2, as gopkg.in/macaroon.v2
 * and the npm `macaroon` package encode them).
 *
 * Layout: version byte 2, then fields "type, uvarint length, bytes":
 *   [location(1)] identifier(2) EOS(0)
 *   { [location(1)] identifier(2) [vid(4)] EOS(0) }*  EOS(0)
 *   signature(6)
 * Signature chain: k = HMAC-SHA256("macaroons-key-generator", rootkey);
 * sig = HMAC(k, id); for each first-party caveat sig = HMAC(sig, caveat).
 * lnd's identifier is 0x03 followed by a MacaroonId protobuf listing the
 * granted ops (entity + actions).
 */
#include "rpc/rpc_internal.h"
#include "macaroon_id.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SUBSYS "RPC"

enum {
	FIELD_EOS = 0,
	FIELD_LOCATION = 1,
	FIELD_IDENTIFIER = 2,
	FIELD_VID = 4,
	FIELD_SIGNATURE = 6,
};

#define MAC_KEYGEN "macaroons-key-generator"
#define MAC_ID_VERSION 3 /* bakery.Version3 */
#define MAC_LOCATION "lnd"
#define MAC_NONCE_LEN 16

struct rpc_macaroon_svc {
	/* sodium_malloc'd: HMAC("macaroons-key-generator", root key); the raw
	 * root key itself is not kept. */
	uint8_t *derived;
};

/* ---- codec ---------------------------------------------------------------- */

struct reader {
	const uint8_t *p;
	size_t len;
};

static bool read_uvarint(struct reader *r, size_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 35; shift += 7) {
		if (r->len == 0)
			return false;
		uint8_t b = *r->p++;
		r->len--;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (v > UINT32_MAX)
				return false;
			*out = (size_t)v;
			return true;
		}
	}
	return false;
}

/* Reads a field of @type if the next byte is @type. */
static bool read_field(struct reader *r, uint8_t type, struct rpc_mac_field *f,
		       bool optional)
{
	f->present = false;
	if (r->len == 0 || r->p[0] != type)
		return optional;
	r->p++;
	r->len--;
	f->present = true;
	f->p = r->p;
	f->len = 0;
	if (type == FIELD_EOS)
		return true;
	size_t n;
	if (!read_uvarint(r, &n) || n > r->len)
		return false;
	f->p = r->p;
	f->len = n;
	r->p += n;
	r->len -= n;
	return true;
}

bool rpc_mac_decode(struct rpc_mac *m, const uint8_t *buf, size_t len)
{
	struct reader r = { buf, len };
	struct rpc_mac_field eos;

	memset(m, 0, sizeof(*m));
	if (len == 0 || len > RPC_MAC_MAX_LEN || buf[0] != 2)
		return false;
	r.p++;
	r.len--;
	if (!read_field(&r, FIELD_LOCATION, &m->location, true) ||
	    !read_field(&r, FIELD_IDENTIFIER, &m->id, false) ||
	    !read_field(&r, FIELD_EOS, &eos, false))
		return false;
	for (;;) {
		if (!read_field(&r, FIELD_EOS, &eos, true))
			return false;
		if (eos.present)
			break;
		if (m->num_caveats == RPC_MAC_MAX_CAVEATS)
			return false;
		struct rpc_mac_caveat *c = &m->caveats[m->num_caveats++];
		if (!read_field(&r, FIELD_LOCATION, &c->location, true) ||
		    !read_field(&r, FIELD_IDENTIFIER, &c->id, false) ||
		    !read_field(&r, FIELD_VID, &c->vid, true) ||
		    !read_field(&r, FIELD_EOS, &eos, false))
			return false;
	}
	if (!read_field(&r, FIELD_SIGNATURE, &m->sig, false))
		return false;
	return r.len == 0 && m->sig.len == crypto_auth_hmacsha256_BYTES;
}

struct writer {
	uint8_t *buf;
	size_t len, cap;
	bool oom;
};

static void put(struct writer *w, const void *p, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n > w->cap) {
		size_t cap = (w->len + n) * 2;
		uint8_t *nb = realloc(w->buf, cap);
		if (!nb) {
			w->oom = true;
			return;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void put_field(struct writer *w, uint8_t type, const void *p, size_t n)
{
	uint8_t v[6];
	size_t vl = 0;
	put(w, &type, 1);
	if (type == FIELD_EOS)
		return;
	size_t x = n;
	while (x >= 0x80) {
		v[vl++] = (uint8_t)(x | 0x80);
		x >>= 7;
	}
	v[vl++] = (uint8_t)x;
	put(w, v, vl);
	put(w, p, n);
}

static void hmac(uint8_t out[32], const uint8_t *key, size_t keylen,
		 const uint8_t *msg, size_t len)
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, msg, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* Walks the chain over @m with @derived; @out = expected signature. */
static void chain_sig(uint8_t out[32], const uint8_t derived[32],
		      const struct rpc_mac *m)
{
	hmac(out, derived, 32, m->id.p, m->id.len);
	for (size_t i = 0; i < m->num_caveats; i++) {
		uint8_t next[32];
		hmac(next, out, 32, m->caveats[i].id.p, m->caveats[i].id.len);
		memcpy(out, next, 32);
		sodium_memzero(next, sizeof(next));
	}
}

void rpc_mac_expected_sig(uint8_t out[32], const struct rpc_macaroon_svc *svc,
			  const struct rpc_mac *m)
{
	chain_sig(out, svc->derived, m);
}

/* ---- identifier (MacaroonId) ---------------------------------------------- */

struct rpc_mac_ops {
	Macaroonpb__MacaroonId *id;
};

struct rpc_mac_ops *rpc_mac_ops_parse(const uint8_t *id, size_t len)
{
	if (len < 1 || id[0] != MAC_ID_VERSION)
		return NULL;
	Macaroonpb__MacaroonId *mid =
		macaroonpb__macaroon_id__unpack(NULL, len - 1, id + 1);
	if (!mid)
		return NULL;
	struct rpc_mac_ops *ops = malloc(sizeof(*ops));
	if (!ops) {
		macaroonpb__macaroon_id__free_unpacked(mid, NULL);
		return NULL;
	}
	ops->id = mid;
	return ops;
}

void rpc_mac_ops_free(struct rpc_mac_ops *ops)
{
	if (!ops)
		return;
	macaroonpb__macaroon_id__free_unpacked(ops->id, NULL);
	free(ops);
}

bool rpc_mac_ops_allows(const struct rpc_mac_ops *ops, const char *entity,
			const char *action)
{
	for (size_t i = 0; i < ops->id->n_ops; i++) {
		const Macaroonpb__Op *op = ops->id->ops[i];
		if (!op->entity || strcmp(op->entity, entity) != 0)
			continue;
		for (size_t j = 0; j < op->n_actions; j++)
			if (op->actions[j] && strcmp(op->actions[j], action) == 0)
				return true;
	}
	return false;
}

/* ---- caveats -------------------------------------------------------------- */

static bool digits(const char **s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*s += n;
	*out = v;
	return true;
}

bool rpc_parse_rfc3339(int64_t *out, const char *s)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	if (!digits(&s, 4, &Y) || *s++ != '-' || !digits(&s, 2, &M) ||
	    *s++ != '-' || !digits(&s, 2, &D) || (*s != 'T' && *s != 't'))
		return false;
	s++;
	if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &m) ||
	    *s++ != ':' || !digits(&s, 2, &sec))
		return false;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '+' ? 1 : -1;
		s++;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om))
			return false;
	} else {
		return false;
	}
	if (*s || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		return false;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
			 .tm_hour = h, .tm_min = m, .tm_sec = sec };
	*out = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	return true;
}

/* @s as 16 bytes of IPv6, an IPv4 address in its IPv4-mapped form
 * (::ffff:a.b.c.d): a dual-stack listener reports IPv4 peers that way. */
static bool parse_ip(uint8_t out[16], const char *s)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (inet_pton(AF_INET, s, out + 12) == 1) {
		memcpy(out, mapped, sizeof(mapped));
		return true;
	}
	return inet_pton(AF_INET6, s, out) == 1;
}

/* Same address, whatever its textual form ("::1" vs "0:0::1", and, as lnd
 * treats them, "127.0.0.1" vs "::ffff:127.0.0.1"). */
static bool same_ip(const char *a, const char *b)
{
	uint8_t x[16], y[16];
	return parse_ip(x, a) && parse_ip(y, b) && memcmp(x, y, 16) == 0;
}

/* One first-party caveat.  Unknown conditions fail: a caveat we do not
 * understand is a restriction we cannot honour. */
static bool check_caveat(char *why, size_t whylen, const uint8_t *c,
			 size_t len, const char *peer_ip, int64_t now)
{
	char cond[256];
	if (len == 0 || len >= sizeof(cond) || memchr(c, '\0', len)) {
		snprintf(why, whylen, "malformed caveat");
		return false;
	}
	memcpy(cond, c, len);
	cond[len] = '\0';
	char *arg = strchr(cond, ' ');
	if (arg)
		*arg++ = '\0';
	if (strcmp(cond, "time-before") == 0) {
		int64_t t;
		if (!arg || !rpc_parse_rfc3339(&t, arg)) {
			snprintf(why, whylen, "bad time-before caveat");
			return false;
		}
		if (now >= t) {
			snprintf(why, whylen, "macaroon has expired");
			return false;
		}
		return true;
	}
	if (strcmp(cond, "ipaddr") == 0) {
		if (!arg || !peer_ip || !same_ip(arg, peer_ip)) {
			snprintf(why, whylen,
				 "macaroon locked to a different IP address");
			return false;
		}
		return true;
	}
	snprintf(why, whylen, "unknown caveat condition \"%.40s\"", cond);
	return false;
}

/* ---- service -------------------------------------------------------------- */

static struct rpc_macaroon_svc *svc_from_root(const uint8_t *root)
{
	struct rpc_macaroon_svc *svc = calloc(1, sizeof(*svc));
	if (!svc)
		return NULL;
	svc->derived = sodium_malloc(32);
	if (!svc->derived) {
		free(svc);
		return NULL;
	}
	hmac(svc->derived, (const uint8_t *)MAC_KEYGEN, strlen(MAC_KEYGEN),
	     root, 32);
	sodium_mprotect_readonly(svc->derived);
	return svc;
}

struct rpc_macaroon_svc *rpc_macaroon_svc_from_key(const uint8_t rootkey[32])
{
	return svc_from_root(rootkey);
}

static bool create_key_file(const char *path)
{
	uint8_t key[32];
	bool ok = false;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		log_unusual(SUBSYS, "cannot create %s: %s", path,
			    strerror(errno));
		return false;
	}
	randombytes_buf(key, sizeof(key));
	if (write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) &&
	    fsync(fd) == 0)
		ok = true;
	else
		log_unusual(SUBSYS, "cannot write %s: %s", path,
			    strerror(errno));
	sodium_memzero(key, sizeof(key));
	close(fd);
	if (!ok)
		unlink(path);
	return ok;
}

struct rpc_macaroon_svc *rpc_macaroon_svc_new(const char *rootkey_path,
					      bool create)
{
	struct rpc_macaroon_svc *svc = NULL;
	uint8_t *root = NULL;
	struct stat st;
	int fd = open(rootkey_path, O_RDONLY);

	if (fd < 0 && errno == ENOENT && create) {
		if (!create_key_file(rootkey_path))
			return NULL;
		log_info(SUBSYS, "created macaroon root key %s", rootkey_path);
		fd = open(rootkey_path, O_RDONLY);
	}
	if (fd < 0) {
		log_unusual(SUBSYS, "cannot open macaroon root key %s: %s",
			    rootkey_path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || st.st_size != 32) {
		log_unusual(SUBSYS, "%s: macaroon root key must be 32 bytes",
			    rootkey_path);
		goto out;
	}
	/* Whoever reads it can mint any macaroon: refused like the node
	 * key, not just warned about. */
	if (st.st_mode & 077) {
		log_unusual(SUBSYS, "macaroon root key %s must not be "
			    "accessible by group or others (mode %03o; chmod "
			    "600)", rootkey_path,
			    (unsigned)(st.st_mode & 0777));
		goto out;
	}
	root = sodium_malloc(32);
	if (!root)
		goto out;
	if (read(fd, root, 32) != 32) {
		log_unusual(SUBSYS, "%s: short read", rootkey_path);
		goto out;
	}
	svc = svc_from_root(root);
out:
	if (root) {
		sodium_memzero(root, 32);
		sodium_free(root);
	}
	close(fd);
	return svc;
}

void rpc_macaroon_svc_free(struct rpc_macaroon_svc *svc)
{
	if (!svc)
		return;
	sodium_free(svc->derived); /* sodium_free zeroes before freeing */
	free(svc);
}

bool rpc_macaroon_bake(const struct rpc_macaroon_svc *svc,
		       uint8_t **out, size_t *outlen,
		       const struct rpc_perm *perms, size_t num_perms,
		       const char *const *caveats, size_t num_caveats)
{
	Macaroonpb__MacaroonId mid = MACAROONPB__MACAROON_ID__INIT;
	Macaroonpb__Op *opv = calloc(num_perms ? num_perms : 1, sizeof(*opv));
	Macaroonpb__Op **opp = calloc(num_perms ? num_perms : 1, sizeof(*opp));
	char **actions = calloc(num_perms ? num_perms : 1, sizeof(*actions));
	uint8_t nonce[MAC_NONCE_LEN], sig[32];
	uint8_t *id = NULL;
	struct writer w = { 0 };
	bool ok = false;

	*out = NULL;
	*outlen = 0;
	if (!opv || !opp || !actions)
		goto done;
	/* Group actions by entity, as lnd's bakery does: one Op per entity.
	 * actions[] is a flat array; each op gets a slice of it. */
	size_t nops = 0, nact = 0;
	for (size_t i = 0; i < num_perms; i++) {
		size_t j;
		for (j = 0; j < nops; j++)
			if (strcmp(opv[j].entity, perms[i].entity) == 0)
				break;
		if (j < nops)
			continue;
		macaroonpb__op__init(&opv[nops]);
		opv[nops].entity = (char *)perms[i].entity;
		opv[nops].actions = actions + nact;
		for (size_t k = i; k < num_perms; k++)
			if (strcmp(perms[k].entity, perms[i].entity) == 0)
				actions[nact++] = (char *)perms[k].action;
		opv[nops].n_actions = (size_t)(actions + nact -
					       opv[nops].actions);
		opp[nops] = &opv[nops];
		nops++;
	}
	randombytes_buf(nonce, sizeof(nonce));
	mid.nonce.data = nonce;
	mid.nonce.len = sizeof(nonce);
	mid.storageid.data = (uint8_t *)"0";
	mid.storageid.len = 1;
	mid.n_ops = nops;
	mid.ops = opp;
	size_t idlen = 1 + macaroonpb__macaroon_id__get_packed_size(&mid);
	id = malloc(idlen);
	if (!id)
		goto done;
	id[0] = MAC_ID_VERSION;
	macaroonpb__macaroon_id__pack(&mid, id + 1);

	uint8_t b = 2;
	put(&w, &b, 1);
	put_field(&w, FIELD_LOCATION, MAC_LOCATION, strlen(MAC_LOCATION));
	put_field(&w, FIELD_IDENTIFIER, id, idlen);
	put_field(&w, FIELD_EOS, NULL, 0);
	hmac(sig, svc->derived, 32, id, idlen);
	for (size_t i = 0; i < num_caveats; i++) {
		uint8_t next[32];
		size_t cl = strlen(caveats[i]);
		put_field(&w, FIELD_IDENTIFIER, caveats[i], cl);
		put_field(&w, FIELD_EOS, NULL, 0);
		hmac(next, sig, 32, (const uint8_t *)caveats[i], cl);
		memcpy(sig, next, 32);
	}
	put_field(&w, FIELD_EOS, NULL, 0);
	put_field(&w, FIELD_SIGNATURE, sig, 32);
	if (w.oom || w.len > RPC_MAC_MAX_LEN) {
		free(w.buf);
		goto done;
	}
	*out = w.buf;
	*outlen = w.len;
	ok = true;
done:
	free(id);
	free(opv);
	free(opp);
	free(actions);
	return ok;
}

/* A macaroon whose signature checked out: its bytes (owned copy, caveat
 * pointers into it) and granted ops.  Caveats and permissions are still
 * checked per call: they depend on the time, the peer and the method. */
struct rpc_mac_verified {
	uint8_t *bytes;
	size_t len;
	struct rpc_mac m;
	struct rpc_mac_ops *ops;
};

void rpc_mac_verified_free(struct rpc_mac_verified *v)
{
	if (!v)
		return;
	rpc_mac_ops_free(v->ops);
	free(v->bytes);
	free(v);
}

bool rpc_mac_verified_is(const struct rpc_mac_verified *v, const uint8_t *mac,
			 size_t maclen)
{
	/* Not secret: the caller holds these very bytes already. */
	return v && v->len == maclen && memcmp(v->bytes, mac, maclen) == 0;
}

struct rpc_mac_verified *rpc_mac_authenticate(const struct rpc_macaroon_svc *svc,
					      char *why, size_t whylen,
					      const uint8_t *mac, size_t maclen)
{
	struct rpc_mac_verified *v = calloc(1, sizeof(*v));
	uint8_t sig[32];

	if (!v || !(v->bytes = malloc(maclen ? maclen : 1))) {
		snprintf(why, whylen, "out of memory");
		free(v);
		return NULL;
	}
	memcpy(v->bytes, mac, maclen);
	v->len = maclen;
	if (!rpc_mac_decode(&v->m, v->bytes, maclen)) {
		snprintf(why, whylen, "cannot decode macaroon (want binary v2)");
		goto fail;
	}
	for (size_t i = 0; i < v->m.num_caveats; i++) {
		if (v->m.caveats[i].vid.present) {
			snprintf(why, whylen,
				 "third-party caveats are not supported");
			goto fail;
		}
	}
	chain_sig(sig, svc->derived, &v->m);
	bool good = sodium_memcmp(sig, v->m.sig.p, 32) == 0;
	sodium_memzero(sig, sizeof(sig));
	if (!good) {
		snprintf(why, whylen, "macaroon signature mismatch "
			 "(wrong root key or tampered)");
		goto fail;
	}
	v->ops = rpc_mac_ops_parse(v->m.id.p, v->m.id.len);
	if (!v->ops) {
		snprintf(why, whylen, "unknown macaroon identifier version");
		goto fail;
	}
	return v;
fail:
	rpc_mac_verified_free(v);
	return NULL;
}

enum rpc_status rpc_mac_authorize(const struct rpc_mac_verified *v,
				  char *why, size_t whylen, const char *method,
				  const struct rpc_perm *required,
				  size_t num_required, const char *peer_ip,
				  int64_t now)
{
	for (size_t i = 0; i < v->m.num_caveats; i++)
		if (!check_caveat(why, whylen, v->m.caveats[i].id.p,
				  v->m.caveats[i].id.len, peer_ip, now))
			return RPC_STATUS_UNAUTHENTICATED;
	/* lnd also accepts "uri:<full method>" as a permission. */
	if (method && rpc_mac_ops_allows(v->ops, "uri", method))
		return RPC_STATUS_OK;
	for (size_t i = 0; i < num_required; i++) {
		if (!rpc_mac_ops_allows(v->ops, required[i].entity,
					required[i].action)) {
			snprintf(why, whylen,
				 "permission denied: macaroon lacks %s:%s",
				 required[i].entity, required[i].action);
			return RPC_STATUS_PERMISSION_DENIED;
		}
	}
	return RPC_STATUS_OK;
}

enum rpc_status rpc_macaroon_verify(const struct rpc_macaroon_svc *svc,
				    char *why, size_t whylen,
				    const uint8_t *mac, size_t maclen,
				    const char *method,
				    const struct rpc_perm *required,
				    size_t num_required,
				    const char *peer_ip, int64_t now)
{
	struct rpc_mac_verified *v = rpc_mac_authenticate(svc, why, whylen,
							  mac, maclen);
	if (!v)
		return RPC_STATUS_UNAUTHENTICATED;
	enum rpc_status st = rpc_mac_authorize(v, why, whylen, method,
					       required, num_required,
					       peer_ip, now);
	rpc_mac_verified_free(v);
	if (st == RPC_STATUS_OK && whylen)
		why[0] = '\0';
	return st;
}

bool rpc_macaroon_write_file(const char *path, const uint8_t *mac,
			     size_t maclen)
{
	size_t plen = strlen(path) + 8;
	char *tmp = malloc(plen);
	bool ok = false;
	if (!tmp)
		return false;
	snprintf(tmp, plen, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		log_unusual(SUBSYS, "cannot create %s: %s", tmp,
			    strerror(errno));
		free(tmp);
		return false;
	}
	if (write(fd, mac, maclen) == (ssize_t)maclen && fsync(fd) == 0)
		ok = true;
	close(fd);
	if (ok && rename(tmp, path) != 0)
		ok = false;
	if (!ok) {
		log_unusual(SUBSYS, "cannot write %s: %s", path,
			    strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ok;
}

bool rpc_macaroon_bake_file(const struct rpc_macaroon_svc *svc,
			    const char *path, const struct rpc_perm *perms,
			    size_t num_perms, bool *wrote)
{
	struct stat st;
	uint8_t *mac = NULL;
	size_t len;
	bool ok;

	if (wrote)
		*wrote = false;
	if (stat(path, &st) == 0)
		return true;
	if (!rpc_macaroon_bake(svc, &mac, &len, perms, num_perms, NULL, 0)) {
		log_unusual(SUBSYS, "cannot bake the macaroon for %s", path);
		return false;
	}
	ok = rpc_macaroon_write_file(path, mac, len);
	free(mac);
	if (ok && wrote)
		*wrote = true;
	return ok;
}
