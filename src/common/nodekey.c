/*~ The node key: one 32-byte secp256k1 secret in a file, used for ECDH
 * (BOLT 8 handshakes) and message signatures (BOLT 7 announcements, lnd's
 * SignMessage).
 *
 * Both holders of a hot node key use this: coldsigner (the reference
 * remote signer) and the supervisor's --signer=local mode.  The secret only
 * ever lives in sodium_malloc memory (guarded, locked) and is wiped on
 * every exit path.
 */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_recovery.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cn_nodekey {
	uint8_t priv[32];
	uint8_t pub[33];
};

/* Fills k->pub from k->priv; false if k->priv is not a valid scalar. */
static bool derive_pub(struct cn_nodekey *k)
{
	secp256k1_pubkey pk;
	size_t len = sizeof(k->pub);

	if (!secp256k1_ec_pubkey_create(cn_secp(), &pk, k->priv))
		return false;
	secp256k1_ec_pubkey_serialize(cn_secp(), k->pub, &len, &pk,
				      SECP256K1_EC_COMPRESSED);
	return true;
}

struct cn_nodekey *cn_nodekey_from_secret(const uint8_t priv[32])
{
	struct cn_nodekey *k = sodium_malloc(sizeof(*k));

	if (!k)
		return NULL;
	memcpy(k->priv, priv, sizeof(k->priv));
	if (!derive_pub(k)) {
		cn_nodekey_free(k);
		return NULL;
	}
	return k;
}

static bool read_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* A fresh key into @priv, written to a new file @path (0600).  On failure
 * errno says why and no file is left behind. */
static bool create_key(const char *path, uint8_t priv[32])
{
	int fd, saved;
	bool ok;

	do {
		randombytes_buf(priv, 32);
	} while (!secp256k1_ec_seckey_verify(cn_secp(), priv));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* A first start with --keyfile=~/.signer/node.key: make the
		 * one missing directory, private like the key. */
		char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0700) == 0)
				fd = open(path,
					  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
					  0600);
		}
		free(dir);
	}
	if (fd < 0)
		return false;
	ok = write(fd, priv, 32) == 32 && fsync(fd) == 0;
	saved = errno;
	close(fd);
	if (!ok)
		unlink(path);
	errno = saved;
	return ok;
}

/* Reads the existing key file open on @fd into @priv; logs why not. */
static bool read_key(const char *subsys, const char *path, int fd,
		     uint8_t priv[32])
{
	struct stat st;
	uint8_t extra;

	/* A hot key readable by others is not a key we should use. */
	if (fstat(fd, &st) != 0 || (st.st_mode & 077)) {
		log_unusual(subsys, "node key %s must not be accessible by "
			    "group or others (chmod 600)", path);
		return false;
	}
	if (!read_all(fd, priv, 32) || read_all(fd, &extra, 1)) {
		log_unusual(subsys, "node key %s must be exactly 32 bytes",
			    path);
		return false;
	}
	return true;
}

struct cn_nodekey *cn_nodekey_load(const char *subsys, const char *path,
				   bool create)
{
	struct cn_nodekey *k = sodium_malloc(sizeof(*k));
	int fd;

	if (!k) {
		log_unusual(subsys, "cannot allocate secure memory for the "
			    "node key");
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (!create_key(path, k->priv)) {
			log_unusual(subsys, "cannot create node key %s: %s",
				    path, strerror(errno));
			goto fail;
		}
		log_info(subsys, "created a new node key in %s", path);
	} else if (fd < 0) {
		log_unusual(subsys, "cannot open node key %s: %s", path,
			    strerror(errno));
		goto fail;
	} else {
		bool ok = read_key(subsys, path, fd, k->priv);
		close(fd);
		if (!ok)
			goto fail;
	}
	if (!derive_pub(k)) {
		log_unusual(subsys, "node key %s is not a valid secp256k1 key",
			    path);
		goto fail;
	}
	return k;
fail:
	cn_nodekey_free(k);
	return NULL;
}

void cn_nodekey_free(struct cn_nodekey *k)
{
	if (!k)
		return;
	sodium_memzero(k, sizeof(*k));
	sodium_free(k);
}

void cn_nodekey_pub(const struct cn_nodekey *k, uint8_t pub[33])
{
	memcpy(pub, k->pub, sizeof(k->pub));
}

bool cn_nodekey_ecdh(const struct cn_nodekey *k, uint8_t secret[32],
		     const uint8_t point[33])
{
	secp256k1_pubkey pk;

	if (!secp256k1_ec_pubkey_parse(cn_secp(), &pk, point, 33))
		return false;
	/* The default hash is SHA256(0x02|0x03 || x), as BOLT 8 wants. */
	return secp256k1_ecdh(cn_secp(), secret, &pk, k->priv, NULL, NULL);
}

/* lnd's SignMessage digest: SHA256(@msg), hashed again if @double_hash. */
static void digest_of(uint8_t digest[32], const uint8_t *msg, size_t len,
		      bool double_hash)
{
	crypto_hash_sha256(digest, msg, len);
	if (double_hash)
		crypto_hash_sha256(digest, digest, 32);
}

bool cn_nodekey_sign(const struct cn_nodekey *k, uint8_t sig[64],
		     const uint8_t *msg, size_t len, bool double_hash)
{
	secp256k1_ecdsa_signature s;
	uint8_t digest[32];

	digest_of(digest, msg, len, double_hash);
	/* The 64-byte LN wire format (r || s, low S). */
	if (!secp256k1_ecdsa_sign(cn_secp(), &s, digest, k->priv, NULL, NULL))
		return false;
	secp256k1_ecdsa_signature_serialize_compact(cn_secp(), sig, &s);
	return true;
}

bool cn_nodekey_sign_recoverable(const struct cn_nodekey *k, uint8_t sig[65],
				 const uint8_t *msg, size_t len,
				 bool double_hash)
{
	secp256k1_ecdsa_recoverable_signature rs;
	uint8_t digest[32];
	int recid;

	digest_of(digest, msg, len, double_hash);
	if (!secp256k1_ecdsa_sign_recoverable(cn_secp(), &rs, digest, k->priv,
					      NULL, NULL))
		return false;
	/* btcec SignCompact: 27 + recid + 4 (compressed key), r, s. */
	secp256k1_ecdsa_recoverable_signature_serialize_compact(
		cn_secp(), sig + 1, &recid, &rs);
	sig[0] = (uint8_t)(27 + 4 + recid);
	return true;
}

/* BIP 340 tagged hash: SHA256(SHA256(tag) || SHA256(tag) || a || b). */
static void tagged_hash(uint8_t out[32], const char *tag, const uint8_t *a,
			size_t alen, const uint8_t *b, size_t blen)
{
	crypto_hash_sha256_state st;
	uint8_t th[32];

	crypto_hash_sha256(th, (const uint8_t *)tag, strlen(tag));
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, th, 32);
	crypto_hash_sha256_update(&st, th, 32);
	crypto_hash_sha256_update(&st, a, alen);
	crypto_hash_sha256_update(&st, b, blen);
	crypto_hash_sha256_final(&st, out);
}

bool cn_nodekey_sign_schnorr(const struct cn_nodekey *k, uint8_t sig[64],
			     const uint8_t digest[32], const uint8_t *tweak,
			     size_t tweaklen)
{
	secp256k1_keypair kp;
	uint8_t aux[32], t[32];
	bool ok;

	if (!secp256k1_keypair_create(cn_secp(), &kp, k->priv))
		return false;
	ok = true;
	if (tweaklen) {
		/* BIP 341: t = hash_TapTweak(xonly(P) || root); the keypair
		 * tweak negates the secret for an odd y first, as
		 * TweakTaprootPrivKey does. */
		tagged_hash(t, "TapTweak", k->pub + 1, 32, tweak, tweaklen);
		ok = secp256k1_keypair_xonly_tweak_add(cn_secp(), &kp, t);
	}
	randombytes_buf(aux, sizeof(aux));
	ok = ok && secp256k1_schnorrsig_sign32(cn_secp(), sig, digest, &kp,
					       aux);
	sodium_memzero(&kp, sizeof(kp));
	return ok;
}
