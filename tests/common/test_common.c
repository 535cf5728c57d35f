/* Unit tests for src/common: hex, big-endian helpers, --debuglevel parsing,
 * log lines, host:port splitting, ~ expansion. */
#include "common/common.h"

#include <errno.h>
#include "check.h"

static bool split_ok(const char *s)
{
	char h[64];
	uint16_t p;

	return cn_split_hostport(h, sizeof(h), &p, s);
}

/* True if @s parses to exactly @host and @port. */
static bool split_is(const char *s, const char *host, uint16_t port)
{
	char h[64];
	uint16_t p;

	return cn_split_hostport(h, sizeof(h), &p, s) &&
	       strcmp(h, host) == 0 && p == port;
}

int main(void)
{
	uint8_t buf[4], be[8];
	char hex[9];
	enum log_level lv;

	CHECK(hex_decode(buf, 4, "00ff10Ab"));
	CHECK(buf[0] == 0 && buf[1] == 0xff && buf[2] == 0x10 && buf[3] == 0xab);
	CHECK(strcmp(hex_encode(hex, buf, 4), "00ff10ab") == 0);
	CHECK(!hex_decode(buf, 4, "00ff10"));     /* short */
	CHECK(!hex_decode(buf, 4, "00ff10abcd")); /* long */
	CHECK(!hex_decode(buf, 4, "00ff10ag"));   /* not hex */
	/* bitcoin's display order: byte-reversed */
	CHECK(hex_decode_reversed(buf, 4, "00ff10Ab"));
	CHECK(buf[0] == 0xab && buf[1] == 0x10 && buf[2] == 0xff && buf[3] == 0);
	CHECK(strcmp(hex_encode_reversed(hex, buf, 4), "00ff10ab") == 0);
	CHECK(!hex_decode_reversed(buf, 4, "00ff10"));

	be64_put(be, 0x0102030405060708ULL);
	CHECK(be[0] == 1 && be[7] == 8);
	CHECK(be64_get(be) == 0x0102030405060708ULL);
	CHECK(be16_get(be) == 0x0102 && be32_get(be + 4) == 0x05060708);
	/* bitcoin's little-endian */
	CHECK(le64_get(be) == 0x0807060504030201ULL);
	CHECK(le32_get(be + 4) == 0x08070605);
	le32_put(be, 0x0a0b0c0d);
	CHECK(be[0] == 0x0d && be[3] == 0x0a && le32_get(be) == 0x0a0b0c0d);

	CHECK(log_level_from_str("debug", &lv) && lv == LOG_DEBUG);
	CHECK(!log_level_from_str("loud", &lv));
	CHECK(log_parse_debuglevel("info,PEER=trace"));
	CHECK(log_enabled("PEER", LOG_TRACE));
	CHECK(!log_enabled("GOSP", LOG_DEBUG));
	CHECK(!log_parse_debuglevel("info,PEER=loud"));
	CHECK(!log_parse_debuglevel("PEER="));
	/* A bad spec changes nothing. */
	CHECK(!log_parse_debuglevel("trace,X=bad"));
	CHECK(!log_enabled("GOSP", LOG_DEBUG));

	/* host:port splitting, shared by the p2p, RPC and signer listeners. */
	CHECK(split_is("127.0.0.1:9735", "127.0.0.1", 9735));
	CHECK(split_is("[::1]:0", "::1", 0));
	CHECK(split_is("localhost:65535", "localhost", 65535));
	CHECK(!split_ok("localhost:65536"));
	CHECK(!split_ok("localhost"));
	CHECK(!split_ok("localhost:"));
	CHECK(!split_ok(":9735"));
	CHECK(!split_ok("::1:9735")); /* bare v6 needs brackets */
	CHECK(!split_ok("[::1]9735"));
	CHECK(!split_ok("[::1:9735"));
	CHECK(!split_ok("h:-1"));
	CHECK(!split_ok("h:12x"));
	{
		char small[4];
		uint16_t port;
		CHECK(!cn_split_hostport(small, sizeof(small), &port,
					 "longhost:1"));
	}

	/* ~ expansion: only a leading "~" or "~/". */
	{
		char *e;

		setenv("HOME", "/home/u", 1);
		e = cn_expand_home("~/.coldnode");
		CHECK(e && strcmp(e, "/home/u/.coldnode") == 0);
		free(e);
		e = cn_expand_home("~");
		CHECK(e && strcmp(e, "/home/u") == 0);
		free(e);
		/* "~user/x" as a shell expands it; an unknown user is an
		 * error (ENOENT), never a relative "~user" directory. */
		e = cn_expand_home("~root/x");
		CHECK(e && strcmp(e, "/root/x") == 0);
		free(e);
		errno = 0;
		e = cn_expand_home("~no-such-user-here/x");
		CHECK(!e && errno == ENOENT);
		e = cn_expand_home("/a/~/b");
		CHECK(e && strcmp(e, "/a/~/b") == 0);
		free(e);
	}

	/* Log lines: one line each, prefix, overlong lines cut with "...". */
	{
		char *out = NULL, big[3000];
		size_t sz = 0;
		FILE *f = open_memstream(&out, &sz);

		log_set_stream(f);
		log_info("TEST", "hello %d", 42);
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		log_info("TEST", "%s", big);
		log_set_stream(NULL);
		fclose(f);
		CHECK(strstr(out, "[INF] TEST: hello 42\n") != NULL);
		char *second = strchr(out, '\n') + 1;
		CHECK(strlen(second) == 1023);
		CHECK(strcmp(second + 1019, "...\n") == 0);
		free(out);
	}

	/* log_burst: 10 lines a second, then a summary of the rest when the
	 * next second's first line comes (clock values passed in). */
	{
		struct log_burst b = { 0 };
		char *out = NULL;
		size_t sz = 0, allowed = 0;
		FILE *f = open_memstream(&out, &sz);

		log_set_stream(f);
		for (int i = 0; i < 1000; i++)
			allowed += log_burst_allow(&b, 100.0 + i * 0.0005,
						   "TEST", "bad things");
		CHECK(allowed == LOG_BURST_PER_SEC);
		CHECK(log_burst_allow(&b, 101.0, "TEST", "bad things"));
		CHECK(log_burst_allow(&b, 101.5, "TEST", "bad things"));
		log_set_stream(NULL);
		fclose(f);
		CHECK(strstr(out, "[INF] TEST: 990 more bad things not logged "
				  "(at most 10 lines a second)\n") != NULL);
		/* One summary only: nothing was dropped in the second window. */
		CHECK(strstr(strstr(out, "990 more") + 8, " more ") == NULL);
		free(out);
	}
	return check_exit();
}
