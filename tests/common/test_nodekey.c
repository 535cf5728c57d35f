/* Unit tests for src/common/nodekey.c: the node key file (create, mode,
 * size, scalar checks), ECDH and both signature formats. */
#include "common/common.h"
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

/* Writes @len bytes to a fresh @name in tmpdir with exactly @mode. */
static const char *write_file(const char *name, const uint8_t *data,
			      size_t len, mode_t mode)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, data, len) == (ssize_t)len);
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
	return path;
}

static void pub_of(uint8_t pub[33], const uint8_t priv[32])
{
	secp256k1_pubkey pk;
	size_t len = 33;

	CHECK(secp256k1_ec_pubkey_create(cn_secp(), &pk, priv));
	secp256k1_ec_pubkey_serialize(cn_secp(), pub, &len, &pk,
				      SECP256K1_EC_COMPRESSED);
}

static void test_load(void)
{
	uint8_t priv[32], pub[33], want[33], zero[32] = { 0 }, big[33];
	char path[128];
	struct cn_nodekey *k, *k2;
	struct stat st;
	int fd;

	/* Missing, not asked to create: refused, nothing made. */
	snprintf(path, sizeof(path), "%s/node.key", tmpdir);
	CHECK(cn_nodekey_load("TEST", path, false) == NULL);
	CHECK(access(path, F_OK) != 0);

	/* Created 0600, 32 bytes, holding the key we got. */
	k = cn_nodekey_load("TEST", path, true);
	CHECK(k != NULL);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(st.st_size == 32);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && read(fd, priv, 32) == 32);
	close(fd);
	pub_of(want, priv);
	cn_nodekey_pub(k, pub);
	CHECK_MEM(pub, want, 33);
	/* Loaded again (create or not): the same key. */
	k2 = cn_nodekey_load("TEST", path, true);
	CHECK(k2 != NULL);
	cn_nodekey_pub(k2, pub);
	CHECK_MEM(pub, want, 33);
	cn_nodekey_free(k2);
	k2 = cn_nodekey_load("TEST", path, false);
	CHECK(k2 != NULL);
	cn_nodekey_free(k2);
	cn_nodekey_free(k);

	/* Accessible by group or others: refused, even read-only bits. */
	CHECK(cn_nodekey_load("TEST", write_file("g.key", priv, 32, 0640),
			      false) == NULL);
	CHECK(cn_nodekey_load("TEST", write_file("o.key", priv, 32, 0604),
			      false) == NULL);
	CHECK(cn_nodekey_load("TEST", write_file("w.key", priv, 32, 0620),
			      false) == NULL);
	k = cn_nodekey_load("TEST", write_file("ro.key", priv, 32, 0400),
			    false);
	CHECK(k != NULL);
	cn_nodekey_free(k);

	/* Exactly 32 bytes. */
	memcpy(big, priv, 32);
	big[32] = 0;
	CHECK(cn_nodekey_load("TEST", write_file("short.key", priv, 31, 0600),
			      false) == NULL);
	CHECK(cn_nodekey_load("TEST", write_file("long.key", big, 33, 0600),
			      true) == NULL);
	CHECK(cn_nodekey_load("TEST", write_file("empty.key", priv, 0, 0600),
			      true) == NULL);

	/* A valid scalar: not 0, below the group order. */
	CHECK(cn_nodekey_load("TEST", write_file("zero.key", zero, 32, 0600),
			      false) == NULL);
	memset(big, 0xff, 32);
	CHECK(cn_nodekey_load("TEST", write_file("ff.key", big, 32, 0600),
			      false) == NULL);

	/* One missing directory is made, private like the key... */
	snprintf(path, sizeof(path), "%s/newdir/node.key", tmpdir);
	k = cn_nodekey_load("TEST", path, true);
	CHECK(k != NULL);
	cn_nodekey_free(k);
	snprintf(path, sizeof(path), "%s/newdir", tmpdir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
	snprintf(path, sizeof(path), "%s/newdir/node.key", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/newdir", tmpdir);
	rmdir(path);
	/* ...but not a whole tree: refused, and no leftovers. */
	snprintf(path, sizeof(path), "%s/no/dir/node.key", tmpdir);
	CHECK(cn_nodekey_load("TEST", path, true) == NULL);
	snprintf(path, sizeof(path), "%s/no", tmpdir);
	CHECK(stat(path, &st) != 0);
	/* A directory is not a key. */
	CHECK(cn_nodekey_load("TEST", tmpdir, true) == NULL);
}

static void test_from_secret(void)
{
	static const uint8_t one[32] = { [31] = 1 }, zero[32] = { 0 };
	uint8_t pub[33], g[33];
	struct cn_nodekey *k;

	CHECK(cn_nodekey_from_secret(zero) == NULL);
	k = cn_nodekey_from_secret(one);
	CHECK(k != NULL);
	cn_nodekey_pub(k, pub);
	CHECK(hex_decode(g, 33, "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce"
			 "28d959f2815b16f81798"));
	CHECK_MEM(pub, g, 33);
	cn_nodekey_free(k);
	cn_nodekey_free(NULL);
}

static void test_ecdh(void)
{
	uint8_t priv[32], point[33], want[32], secret[32], bad[33];
	struct cn_nodekey *k;

	/* BOLT #8 Appendix A, initiator act three: se = ECDH(s.priv, re). */
	memset(priv, 0x11, 32);
	CHECK(hex_decode(point, 33, "02466d7fcae563e5cb09a0d1870bb58034480461"
			 "7879a14949cf22285f1bae3f27"));
	CHECK(hex_decode(want, 32, "b36b6d195982c5be874d6d542dc268234379e1ae4f"
			 "f1709402135b7de5cf0766"));
	k = cn_nodekey_from_secret(priv);
	CHECK(k != NULL);
	CHECK(cn_nodekey_ecdh(k, secret, point));
	CHECK_MEM(secret, want, 32);
	/* Not a point on the curve. */
	memset(bad, 0, sizeof(bad));
	bad[0] = 0x02;
	CHECK(!cn_nodekey_ecdh(k, secret, bad));
	bad[0] = 0x05;
	CHECK(!cn_nodekey_ecdh(k, secret, bad));
	cn_nodekey_free(k);
}

static void digest_of(uint8_t digest[32], const uint8_t *msg, size_t len,
		      bool double_hash)
{
	crypto_hash_sha256(digest, msg, len);
	if (double_hash)
		crypto_hash_sha256(digest, digest, 32);
}

static void test_sign(void)
{
	static const uint8_t msg[] = "a node announcement";
	const secp256k1_context *ctx = cn_secp();
	uint8_t priv[32] = { [31] = 7 }, pub[33], got[33], digest[32];
	uint8_t sig[64], rsig[65];
	secp256k1_ecdsa_signature s, norm;
	secp256k1_ecdsa_recoverable_signature rs;
	secp256k1_pubkey pk, rec;
	struct cn_nodekey *k = cn_nodekey_from_secret(priv);
	size_t len = 33;

	CHECK(k != NULL);
	cn_nodekey_pub(k, pub);
	CHECK(secp256k1_ec_pubkey_parse(ctx, &pk, pub, 33));

	for (int dbl = 0; dbl <= 1; dbl++) {
		/* 64-byte wire form, low S, over the chosen digest only. */
		digest_of(digest, msg, sizeof(msg), dbl);
		CHECK(cn_nodekey_sign(k, sig, msg, sizeof(msg), dbl));
		CHECK(secp256k1_ecdsa_signature_parse_compact(ctx, &s, sig));
		CHECK(!secp256k1_ecdsa_signature_normalize(ctx, &norm, &s));
		CHECK(secp256k1_ecdsa_verify(ctx, &s, digest, &pk));
		digest_of(digest, msg, sizeof(msg), !dbl);
		CHECK(!secp256k1_ecdsa_verify(ctx, &s, digest, &pk));

		/* 65-byte recoverable: header 27 + 4 + recid, recovers us. */
		digest_of(digest, msg, sizeof(msg), dbl);
		CHECK(cn_nodekey_sign_recoverable(k, rsig, msg, sizeof(msg),
						  dbl));
		CHECK(rsig[0] >= 31 && rsig[0] <= 34);
		CHECK(secp256k1_ecdsa_recoverable_signature_parse_compact(
			ctx, &rs, rsig + 1, rsig[0] - 31));
		CHECK(secp256k1_ecdsa_recover(ctx, &rec, &rs, digest));
		len = 33;
		secp256k1_ec_pubkey_serialize(ctx, got, &len, &rec,
					      SECP256K1_EC_COMPRESSED);
		CHECK_MEM(got, pub, 33);
		/* Same r, s as the wire form (RFC 6979 nonces). */
		CHECK(cn_nodekey_sign(k, sig, msg, sizeof(msg), dbl));
		CHECK_MEM(rsig + 1, sig, 64);
	}
	cn_nodekey_free(k);
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[384];

	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(tmpdir);
}

int main(void)
{
	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nodekeyXXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);

	test_load();
	test_from_secret();
	test_ecdh();
	test_sign();
	remove_tmpdir();
	return check_exit();
}
