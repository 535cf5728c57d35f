/*~ common: the few helpers every module shares: logging, hex, big-endian
 * integers, crypto setup, and the node key file that both key holders
 * (coldsigner, --signer=local) use.
 *
 * Argument order everywhere in coldnode: context first, then outputs, then
 * inputs; a length follows its buffer.
 */
#ifndef COLDNODE_COMMON_H
#define COLDNODE_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CN_WARN_UNUSED __attribute__((warn_unused_result))
#define CN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Log levels, lowest first.  BROKEN means "our bug": tests fail on it. */
enum log_level {
	LOG_TRACE = 0,
	LOG_DEBUG,
	LOG_INFO,
	LOG_UNUSUAL,
	LOG_BROKEN,
};

/**
 * log_set_level - set the minimum level printed, for all subsystems or one.
 * @subsys: subsystem name ("PEER", "BRON", ...) or NULL for the default.
 * Returns false if @subsys is 8 characters or longer, or if 32 subsystems
 * already have their own level.
 */
bool log_set_level(const char *subsys, enum log_level level);
/**
 * log_parse_debuglevel - apply an lnd-style --debuglevel spec:
 * "info" or "debug,PEER=trace,GOSP=info".  Returns false (and sets nothing)
 * on a bad spec.
 */
bool log_parse_debuglevel(const char *spec) CN_WARN_UNUSED;
bool log_level_from_str(const char *s, enum log_level *out) CN_WARN_UNUSED;
bool log_enabled(const char *subsys, enum log_level level);

/* Log to stderr, one line: "2026-11-26 01:02:03.123 [INF] PEER: text". */
void log_msg(const char *subsys, enum log_level level, const char *fmt, ...)
	CN_PRINTF(3, 4);
void log_vmsg(const char *subsys, enum log_level level, const char *fmt,
	      va_list ap);
/* Where lines go (default stderr); borrowed, caller keeps it open. */
void log_set_stream(void *file);
/**
 * log_open_file - also append every line to @dir/coldnode.log (lnd's
 * --logdir, --maxlogfiles, --maxlogfilesize).  @dir borrowed; created
 * (0700) if missing.
 * @max_bytes: the file is rotated before a line would take it past this
 *   (a line is never split: each goes whole into one file).
 * @max_files: rotated files kept (coldnode.log.1 newest ..
 *   coldnode.log.N); 0: never rotate.
 * Returns false (and logs why on stderr) if the file cannot be opened.
 */
bool log_open_file(const char *dir, uint64_t max_bytes, unsigned max_files)
	CN_WARN_UNUSED;
void log_close_file(void);

/* A cap on lines about one kind of event anyone can cause, such as a
 * connection that fails before it authenticates: a flood of them must
 * not fill the log files and rotate away what matters.  At most
 * LOG_BURST_PER_SEC lines a second; the rest are left to the caller's
 * debug level.  Zero-initialise. */
struct log_burst {
	double window;    /* cn_now() at the start of the current second */
	unsigned lines;   /* allowed in it */
	uint64_t dropped; /* refused since the last summary line */
};
#define LOG_BURST_PER_SEC 10
/* True: log this one.  When the previous second had lines refused, first
 * logs "@subsys: N more @what not logged (at most 10 lines a second)"
 * (@what borrowed, e.g. "TLS handshake failures").  @now: cn_now(). */
bool log_burst_allow(struct log_burst *b, double now, const char *subsys,
		     const char *what);

#define log_trace(sub, ...) log_msg(sub, LOG_TRACE, __VA_ARGS__)
#define log_debug(sub, ...) log_msg(sub, LOG_DEBUG, __VA_ARGS__)
#define log_info(sub, ...) log_msg(sub, LOG_INFO, __VA_ARGS__)
#define log_unusual(sub, ...) log_msg(sub, LOG_UNUSUAL, __VA_ARGS__)
#define log_broken(sub, ...) log_msg(sub, LOG_BROKEN, __VA_ARGS__)

/* hex: @out must hold 2*@len+1 bytes; returns @out. */
char *hex_encode(char *out, const uint8_t *in, size_t len);
/* Value of one hex digit, or -1. */
int hex_digit(char c);
/* Returns false unless @hex is exactly 2*@len hex digits. */
bool hex_decode(uint8_t *out, size_t len, const char *hex) CN_WARN_UNUSED;
/* Bitcoin shows hashes (block hashes, txids) byte-reversed from their wire
 * order; these convert between the two.  Same contracts as above. */
char *hex_encode_reversed(char *out, const uint8_t *in, size_t len);
bool hex_decode_reversed(uint8_t *out, size_t len,
			 const char *hex) CN_WARN_UNUSED;

/* Big-endian integers (BOLT 1: "All data fields are unsigned big-endian"). */
static inline uint16_t be16_get(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t be32_get(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64_get(const uint8_t *p)
{
	return ((uint64_t)be32_get(p) << 32) | be32_get(p + 4);
}
static inline void be16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void be64_put(uint8_t *p, uint64_t v)
{
	be32_put(p, (uint32_t)(v >> 32));
	be32_put(p + 4, (uint32_t)v);
}

/* Little-endian integers: bitcoin's serialization (blocks, transactions,
 * outpoints). */
static inline uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}
static inline void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* @path with a leading "~/" (or a lone "~") replaced by $HOME (or, with
 * HOME unset or empty, the user's passwd home), "~user/" by that user's
 * home (getpwnam), as a new malloc'd string the caller frees.  NULL with
 * errno ENOENT if there is no such home (never a relative path), ENOMEM
 * on allocation failure.  Flags like --keyfile=~/x reach us unexpanded:
 * the shell only expands a word-initial tilde. */
char *cn_expand_home(const char *path);

/* "host:port" or "[v6]:port" into @host (@hostcap bytes, NUL-terminated)
 * and @port.  False if malformed: no port, a port over 65535, an empty or
 * too long host, or a bare IPv6 address without brackets.  No resolution. */
bool cn_split_hostport(char *host, size_t hostcap, uint16_t *port,
		       const char *hostport) CN_WARN_UNUSED;

/* Whether @s[0..n) is strict UTF-8: no overlongs, no surrogates, at most
 * U+10FFFF (BOLT 7's alias; NULs are the caller's business). */
bool cn_utf8_valid(const uint8_t *s, size_t n);

/* Monotonic clock in seconds, for timeouts and benches. */
double cn_now(void);

/* A latency histogram in seconds with fixed bucket bounds (cn_hist_bounds,
 * 0.5 ms .. 10 s), kept by a module and rendered by src/metrics: modules
 * count without depending on the metrics module. */
#define CN_HIST_BUCKETS 14
extern const double cn_hist_bounds[CN_HIST_BUCKETS];
struct cn_hist {
	uint64_t bucket[CN_HIST_BUCKETS]; /* not cumulative: bounds[i-1] < v <= bounds[i] */
	uint64_t count;                   /* all observations, +Inf included */
	double sum;
};
void cn_hist_observe(struct cn_hist *h, double seconds);

/* Process-wide crypto setup (sodium_init, one randomized secp256k1 context).
 * Aborts if libsodium cannot start: nothing safe can run without it. */
void cn_crypto_init(void);
/* The shared secp256k1 context (verify+sign); valid after cn_crypto_init. */
struct secp256k1_context_struct;
const struct secp256k1_context_struct *cn_secp(void);

/* The node key: a 32-byte secp256k1 secret held in sodium_malloc memory,
 * wiped on free.  coldsigner and --signer=local both hold one.  All
 * functions need cn_crypto_init() first. */
struct cn_nodekey;

/**
 * cn_nodekey_load - read the node key file @path (borrowed).
 * @subsys: borrowed; the caller's log subsystem ("SIGN", "SUPV").
 * @create: if @path does not exist, create it (mode 0600) with a fresh key.
 * Returns NULL (and logs why) if the file cannot be read or created, is
 * accessible by group or others, is not exactly 32 bytes, or is not a
 * valid secp256k1 scalar.  The caller takes the key (cn_nodekey_free).
 */
struct cn_nodekey *cn_nodekey_load(const char *subsys, const char *path,
				   bool create) CN_WARN_UNUSED;
/* From raw bytes (tests, benches): @priv copied.  NULL if not a valid key.
 * The caller takes the key. */
struct cn_nodekey *cn_nodekey_from_secret(const uint8_t priv[32])
	CN_WARN_UNUSED;
/* Wipes and frees.  NULL ok. */
void cn_nodekey_free(struct cn_nodekey *k);
/* The node id (compressed public key).  @k borrowed. */
void cn_nodekey_pub(const struct cn_nodekey *k, uint8_t pub[33]);
/* SHA256(compressed(priv * @point)), libsecp256k1's default ECDH hash as
 * BOLT 8 uses it.  False on an invalid @point.  @secret is secret: the
 * caller wipes it. */
bool cn_nodekey_ecdh(const struct cn_nodekey *k, uint8_t secret[32],
		     const uint8_t point[33]) CN_WARN_UNUSED;
/* Signatures over lnd's SignMessage digest: SHA256(SHA256(@msg)) if
 * @double_hash (BOLT 7 signatures), else SHA256(@msg).
 * cn_nodekey_sign: the 64-byte wire format (r || s, low S).
 * cn_nodekey_sign_recoverable: btcec's 65-byte compact format
 * (27 + 4 + recid, r, s), from which the public key can be recovered. */
bool cn_nodekey_sign(const struct cn_nodekey *k, uint8_t sig[64],
		     const uint8_t *msg, size_t len,
		     bool double_hash) CN_WARN_UNUSED;
bool cn_nodekey_sign_recoverable(const struct cn_nodekey *k, uint8_t sig[65],
				 const uint8_t *msg, size_t len,
				 bool double_hash) CN_WARN_UNUSED;
/* BIP 340 Schnorr signature over the 32-byte @digest (the caller hashes,
 * as lnd's SignMessageSchnorr does), with the key first tweaked per BIP 341
 * by @tweak (a script root, @tweaklen bytes, borrowed) if @tweaklen > 0, as
 * btcd's txscript.TweakTaprootPrivKey. */
bool cn_nodekey_sign_schnorr(const struct cn_nodekey *k, uint8_t sig[64],
			     const uint8_t digest[32], const uint8_t *tweak,
			     size_t tweaklen) CN_WARN_UNUSED;

#endif /* COLDNODE_COMMON_H */
