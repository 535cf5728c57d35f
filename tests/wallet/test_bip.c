/* wallet: the pure parts against the BIPs' own test vectors: BIP32
 * (public derivation of vectors 1-3 and vector 5's invalid keys), BIP49,
 * BIP84, BIP86, BIP173/BIP350 (valid and invalid strings and addresses),
 * and base58check. */
#include "wallet/wallet_internal.h"
#include "check.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool parse_key(struct wallet_xpub *k, const char *s)
{
	enum wallet_xkey_family f;
	bool mainnet;
	char err[200];
	return wallet_xpub_parse(k, &f, &mainnet, err, sizeof(err), s);
}

/* Derives @path (non-hardened elements only) from @from and compares the
 * serialisation with @want. */
static void derive_check(const char *from, const uint32_t *path, size_t n,
			 const char *want)
{
	struct wallet_xpub k, c;
	char out[120];
	CHECK(parse_key(&k, from));
	for (size_t i = 0; i < n; i++) {
		CHECK(wallet_xpub_child(&c, &k, path[i]));
		k = c;
	}
	CHECK(wallet_xpub_format(out, sizeof(out), &k, XKEY_ANY, true));
	if (strcmp(out, want) != 0)
		fprintf(stderr, "got  %s\nwant %s\n", out, want);
	CHECK(strcmp(out, want) == 0);
}

static void test_bip32(void)
{
	/* Vector 1: chain m/0H -> m/0H/1; m/0H/1/2H -> /2 -> /1000000000. */
	derive_check("xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw",
		     (const uint32_t[]){ 1 }, 1,
		     "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ");
	derive_check("xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5",
		     (const uint32_t[]){ 2, 1000000000 }, 2,
		     "xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy");
	/* Vector 2: m -> m/0; m/0/2147483647H -> /1; .../2147483646H -> /2. */
	derive_check("xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB",
		     (const uint32_t[]){ 0 }, 1,
		     "xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH");
	derive_check("xpub6ASAVgeehLbnwdqV6UKMHVzgqAG8Gr6riv3Fxxpj8ksbH9ebxaEyBLZ85ySDhKiLDBrQSARLq1uNRts8RuJiHjaDMBU4Zn9h8LZNnBC5y4a",
		     (const uint32_t[]){ 1 }, 1,
		     "xpub6DF8uhdarytz3FWdA8TvFSvvAh8dP3283MY7p2V4SeE2wyWmG5mg5EwVvmdMVCQcoNJxGoWaU9DCWh89LojfZ537wTfunKau47EL2dhHKon");
	derive_check("xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL",
		     (const uint32_t[]){ 2 }, 1,
		     "xpub6FnCn6nSzZAw5Tw7cgR9bi15UV96gLZhjDstkXXxvCLsUXBGXPdSnLFbdpq8p9HmGsApME5hQTZ3emM2rnY5agb9rXpVGyy3bdW6EEgAtqt");
	/* Vector 3 (leading zeros): only hardened children; its keys parse
	 * and re-serialise. */
	derive_check("xpub661MyMwAqRbcEZVB4dScxMAdx6d4nFc9nvyvH3v4gJL378CSRZiYmhRoP7mBy6gSPSCYk6SzXPTf3ND1cZAceL7SfJ1Z3GC8vBgp2epUt13",
		     NULL, 0,
		     "xpub661MyMwAqRbcEZVB4dScxMAdx6d4nFc9nvyvH3v4gJL378CSRZiYmhRoP7mBy6gSPSCYk6SzXPTf3ND1cZAceL7SfJ1Z3GC8vBgp2epUt13");
	derive_check("xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y",
		     NULL, 0,
		     "xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y");

	/* Hardened children cannot be derived from a public key. */
	struct wallet_xpub k, c;
	CHECK(parse_key(&k, "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB"));
	CHECK(!wallet_xpub_child(&c, &k, 0x80000000u));

	/* Private keys are refused, whatever the version. */
	CHECK(!parse_key(&k, "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi"));
	CHECK(!parse_key(&k, "tprv8ZgxMBicQKsPd9TeAdPADNnSyH9SSUUbTVeFszDE23Ki6TBB5nCefAdHkK8Fm3qMQR6sHwA56zqRmKmxnHk37JkiFzvncDqoKmPWubu7hDF"));

	/* BIP32 vector 5 (invalid extended keys). */
	const char *bad[] = {
		/* pubkey version / prvkey mismatch */
		"xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6LBpB85b3D2yc8sfvZU521AAwdZafEz7mnzBBsz4wKY5fTtTQBm",
		/* invalid pubkey prefix 04 */
		"xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6Txnt3siSujt9RCVYsx4qHZGc62TG4McvMGcAUjeuwZdduYEvFn",
		/* invalid pubkey prefix 01 */
		"xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6N8ZMMXctdiCjxTNq964yKkwrkBJJwpzZS4HS2fxvyYUA4q2Xe4",
		/* zero depth with non-zero parent fingerprint */
		"xpub661no6RGEX3uJkY4bNnPcw4URcQTrSibUZ4NqJEw5eBkv7ovTwgiT91XX27VbEXGENhYRCf7hyEbWrR3FewATdCEebj6znwMfQkhRYHRLpJ",
		/* zero depth with non-zero index */
		"xpub661MyMwAuDcm6CRQ5N4qiHKrJ39Xe1R1NyfouMKTTWcguwVcfrZJaNvhpebzGerh7gucBvzEQWRugZDuDXjNDRmXzSZe4c7mnTK97pTvGS8",
		/* unknown extended key version */
		"DMwo58pR1QLEFihHiXPVykYB6fJmsTeHvyTp7hRThAtCX8CvYzgPcn8XnmdfHGMQzT7ayAmfo4z3gY5KfbrZWZ6St24UVf2Qgo6oujFktLHdHY4",
		/* private key 0 not in 1..n-1 */
		"xprv9s21ZrQH143K24Mfq5zL5MhWK9hUhhGbd45hLXo2Pq2oqzMMo63oStZzF93Y5wvzdUayhgkkFoicQZcP3y52uPPxFnfoLZB21Teqt1VvEHx",
		/* invalid pubkey 020000...07 */
		"xpub661MyMwAqRbcEYS8w7XLSVeEsBXy79zSzH1J8vCdxAZningWLdN3zgtU6Q5JXayek4PRsn35jii4veMimro1xefsM58PgBMrvdYre8QyULY",
		/* invalid checksum */
		"xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHL",
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		bool ok = parse_key(&k, bad[i]);
		if (ok)
			fprintf(stderr, "accepted bad key %zu\n", i);
		CHECK(!ok);
	}
}

/* Account key -> branch/index -> address on @net. */
static void addr_check(const char *acct, enum wallet_addr_type t,
		       const char *net, uint32_t branch, uint32_t idx,
		       const char *want)
{
	struct wallet_xpub k, b, c;
	uint8_t script[WALLET_MAX_SCRIPT], back[64];
	size_t len, blen = sizeof(back);
	char addr[100], err[200];
	const struct wallet_net *n = wallet_net_find(net);

	CHECK(parse_key(&k, acct));
	CHECK(wallet_xpub_child(&b, &k, branch));
	CHECK(wallet_xpub_child(&c, &b, idx));
	len = wallet_script_for_key(script, t, c.pubkey);
	CHECK(len > 0);
	CHECK(wallet_script_address(addr, sizeof(addr), n, script, len));
	if (strcmp(addr, want) != 0)
		fprintf(stderr, "got  %s\nwant %s\n", addr, want);
	CHECK(strcmp(addr, want) == 0);
	/* and back */
	CHECK(wallet_address_script(back, &blen, err, sizeof(err), n, addr));
	CHECK(blen == len && memcmp(back, script, len) == 0);
}

static void test_bip49_84_86(void)
{
	/* BIP49 (testnet): account 0 of "abandon ... about", m/49'/1'/0'. */
	addr_check("upub5EFU65HtV5TeiSHmZZm7FUffBGy8UKeqp7vw43jYbvZPpoVsgU93oac7Wk3u6moKegAEWtGNF8DehrnHtv21XXEMYRUocHqguyjknFHYfgY",
		   WALLET_ADDR_NP2WKH, "testnet", 0, 0,
		   "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2");
	/* BIP84: m/84'/0'/0' of the same mnemonic. */
	const char *zpub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
	addr_check(zpub, WALLET_ADDR_P2WKH, "mainnet", 0, 0,
		   "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
	addr_check(zpub, WALLET_ADDR_P2WKH, "mainnet", 0, 1,
		   "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g");
	addr_check(zpub, WALLET_ADDR_P2WKH, "mainnet", 1, 0,
		   "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el");
	/* BIP86: m/86'/0'/0'. */
	const char *xpub86 = "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ";
	addr_check(xpub86, WALLET_ADDR_P2TR, "mainnet", 0, 0,
		   "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr");
	addr_check(xpub86, WALLET_ADDR_P2TR, "mainnet", 0, 1,
		   "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh");
	addr_check(xpub86, WALLET_ADDR_P2TR, "mainnet", 1, 0,
		   "bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7");
	/* BIP86 internal -> output key of m/86'/0'/0'/0/0. */
	uint8_t p[33] = { 0x02 }, q[32], want[32];
	CHECK(hex_decode(p + 1, 32, "cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115"));
	CHECK(hex_decode(want, 32, "a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c"));
	CHECK(wallet_bip86_output_key(q, p));
	CHECK_MEM(q, want, 32);
}

static void test_bech32_strings(void)
{
	/* BIP173 valid bech32, BIP350 valid bech32m checksums. */
	const char *b32[] = {
		"A12UEL5L", "a12uel5l",
		"an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
		"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
		"11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
		"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
		"?1ezyfcl",
	};
	const char *b32m[] = {
		"A1LQFN3A", "a1lqfn3a",
		"an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
		"abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
		"11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
		"split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
		"?1v759aa",
	};
	/* Invalid for both (BIP173 and BIP350 lists). */
	const char *bad[] = {
		"\x20" "1nwldj5", "\x7f" "1axkwrx", "\x80" "1eym55h",
		"an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
		"pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3",
		"de1lg7wt\xff", "A1G7SGD8", "10a06t8", "1qzzfhee",
		"\x20" "1xj0phk", "\x7f" "1g6xzxy", "\x80" "1vctc34",
		"an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
		"qyrz8wqd2c9m", "1qyrz8wqd2c9m", "y1b0jsk6g", "lt1igcx5c0",
		"in1muywd", "mm1crxm3i", "au1s5cgom", "M1VUXWEZ", "16plkw9",
		"1p2gdwpf",
	};
	char hrp[100];
	uint8_t data[100];
	size_t dl;
	for (size_t i = 0; i < CN_ARRAY_SIZE(b32); i++) {
		dl = sizeof(data);
		bool ok = wallet_bech32_decode(hrp, sizeof(hrp), data, &dl,
					       b32[i]) == BECH32;
		if (!ok)
			fprintf(stderr, "rejected %s\n", b32[i]);
		CHECK(ok);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(b32m); i++) {
		dl = sizeof(data);
		CHECK(wallet_bech32_decode(hrp, sizeof(hrp), data, &dl, b32m[i]) == BECH32M);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		dl = sizeof(data);
		enum bech32_kind k = wallet_bech32_decode(hrp, sizeof(hrp), data, &dl, bad[i]);
		if (k != BECH32_NONE)
			fprintf(stderr, "accepted bad string %zu\n", i);
		CHECK(k == BECH32_NONE);
	}
}

static void test_segwit_addresses(void)
{
	/* BIP350's valid segwit addresses and their scripts. */
	static const struct { const char *a, *script; } good[] = {
		{ "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6" },
		{ "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262" },
		{ "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6" },
		{ "BC1SW50QGDZ25J", "6002751e" },
		{ "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323" },
		{ "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy", "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433" },
		{ "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c", "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433" },
		{ "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798" },
	};
	/* BIP173 and BIP350 invalid addresses (for either network). */
	static const char *bad[] = {
		"tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
		"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
		"tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
		"BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
		"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
		"tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
		"bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
		"BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
		"bc1pw5dgrnzv",
		"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
		"BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
		"tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
		"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
		"tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
		"bc1gmk9yu",
		/* BIP173's own invalid list */
		"tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty",
		"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
		"BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2",
		"bc1rw5uspcuh",
		"bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
		"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7",
		"bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du",
		"tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv",
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(good); i++) {
		const char *hrp = (good[i].a[0] | 0x20) == 'b' ? "bc" : "tb";
		uint8_t prog[40], want[42];
		size_t pl = sizeof(prog), wl = strlen(good[i].script) / 2;
		int v;
		char err[200], re[100], low[100];
		CHECK(hex_decode(want, wl, good[i].script));
		CHECK(wallet_segwit_decode(&v, prog, &pl, err, sizeof(err), hrp,
					   good[i].a));
		CHECK(want[0] == (v ? 0x50 + v : 0) && want[1] == pl &&
		      memcmp(want + 2, prog, pl) == 0);
		/* re-encoding gives the lowercase address */
		CHECK(wallet_segwit_encode(re, sizeof(re), hrp, v, prog, pl));
		for (size_t j = 0; j <= strlen(good[i].a); j++)
			low[j] = (char)tolower((unsigned char)good[i].a[j]);
		CHECK(strcmp(re, low) == 0);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(bad); i++) {
		uint8_t prog[40];
		size_t pl;
		int v;
		char err[200];
		bool acc = false;
		const char *hrps[] = { "bc", "tb" };
		for (int h = 0; h < 2; h++) {
			pl = sizeof(prog);
			acc |= wallet_segwit_decode(&v, prog, &pl, err,
						    sizeof(err), hrps[h], bad[i]);
		}
		if (acc)
			fprintf(stderr, "accepted bad address %s\n", bad[i]);
		CHECK(!acc);
	}
	/* The address decoder on a network: the wrong one is named. */
	uint8_t s[42];
	size_t sl = sizeof(s);
	char err[200];
	CHECK(!wallet_address_script(s, &sl, err, sizeof(err),
				     wallet_net_find("regtest"),
				     "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
	CHECK(strstr(err, "regtest") != NULL);
	sl = sizeof(s);
	CHECK(!wallet_address_script(s, &sl, err, sizeof(err),
				     wallet_net_find("mainnet"),
				     "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"));
}

static void test_base58(void)
{
	uint8_t in[25], out[25];
	size_t n = sizeof(out);
	char s[64];
	/* Leading zero bytes become '1's and come back. */
	memset(in, 0, 3);
	for (size_t i = 3; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37);
	CHECK(wallet_base58check_encode(s, sizeof(s), in, sizeof(in)));
	CHECK(strncmp(s, "111", 3) == 0 && s[3] != '1');
	CHECK(wallet_base58check_decode(out, &n, s));
	CHECK(n == sizeof(in) && memcmp(in, out, n) == 0);
	/* a flipped character fails the checksum; 0, O, I, l are not base58 */
	s[10] = s[10] == 'a' ? 'b' : 'a';
	n = sizeof(out);
	CHECK(!wallet_base58check_decode(out, &n, s));
	n = sizeof(out);
	CHECK(!wallet_base58check_decode(out, &n, "1O0Il"));
	n = sizeof(out);
	CHECK(!wallet_base58check_decode(out, &n, ""));
	/* too small an output buffer */
	CHECK(!wallet_base58check_encode(s, 10, in, sizeof(in)));
}

int main(void)
{
	cn_crypto_init();
	test_bip32();
	test_bip49_84_86();
	test_bech32_strings();
	test_segwit_addresses();
	test_base58();
	return check_exit();
}
