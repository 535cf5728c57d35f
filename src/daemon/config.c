/*~ coldnode's configuration, table driven: one row per option gives its
 * name, type, default, help and the field it fills, so the parser, the
 * config file reader and --help all come from the same place.  Order of
 * precedence: defaults < coldnode.conf < command line.  A repeatable option
 * set in a later source replaces, not extends, the earlier list.
 */
#include <arpa/inet.h>
#include "daemon/config.h"

#include "common/common.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

enum opt_type {
	OPT_STRING,
	OPT_LIST,     /* repeatable string */
	OPT_BOOL,     /* a flag: "--x" or "--x=true|false|1|0" */
	OPT_DURATION, /* "10", "10s", "500ms", "2m", "1h" -> seconds */
	OPT_UINT,
};

struct opt {
	const char *name;
	enum opt_type type;
	const char *def; /* default as text; NULL for none */
	const char *help;
	size_t off;      /* offsetof(struct daemon_config, field) */
	bool cmdline_only;
};

#define F(field) offsetof(struct daemon_config, field)

/* The option table.  Add a row here (and a field in config.h). */
static const struct opt opts[] = {
	{ "help", OPT_BOOL, NULL, "print this help and exit", F(help), true },
	{ "datadir", OPT_STRING, "~/.coldnode",
	  "directory for the node key, database and config file", F(datadir),
	  true },
	{ "configfile", OPT_STRING, NULL,
	  "config file (default <datadir>/coldnode.conf)", F(configfile), true },
	{ "listen", OPT_LIST, "0.0.0.0:9735",
	  "p2p listen address host:port (repeatable)", F(listen), false },
	{ "nolisten", OPT_BOOL, "false", "do not accept p2p connections",
	  F(nolisten), false },
	{ "rpclisten", OPT_LIST, "127.0.0.1:10009",
	  "gRPC listen address host:port (repeatable)", F(rpclisten), false },
	{ "rpcunix", OPT_STRING, NULL,
	  "gRPC unix socket path (default <datadir>/rpc.sock; \"none\": off)",
	  F(rpcunix), false },
	{ "tlscertpath", OPT_STRING, NULL,
	  "gRPC TLS certificate (default <datadir>/tls.cert, made if missing)",
	  F(tlscertpath), false },
	{ "tlskeypath", OPT_STRING, NULL,
	  "gRPC TLS key (default <datadir>/tls.key, made if missing)",
	  F(tlskeypath), false },
	{ "tlsextradomain", OPT_LIST, NULL,
	  "extra host name or IP for a newly made tls.cert (repeatable)",
	  F(tlsextradomain), false },
	/* TLS names like lnd (docs/signer.md, "Certificate"). */
	{ "tlsextraip", OPT_LIST, NULL,
	  "extra IP address for tls.cert (repeatable)", F(tlsextraip),
	  false },
	{ "tlsautorefresh", OPT_BOOL, "false",
	  "make a new tls.cert at startup if it does not name every "
	  "listener, --tlsextraip and --tlsextradomain", F(tlsautorefresh),
	  false },
	{ "signerlisten", OPT_STRING, "127.0.0.1:10019",
	  "address the remote signer connects to", F(signerlisten), false },
	{ "signer.unix", OPT_STRING, NULL,
	  "signer unix socket (default <datadir>/signer.sock; \"none\": off)",
	  F(signer_unix), false },
	{ "signer.nodepubkey", OPT_STRING, NULL,
	  "node key the signer must hold (hex); unset: pin the first signer's",
	  F(signer_nodepubkey), false },
	{ "signer.pinginterval", OPT_DURATION, "10s",
	  "time between pings on the signer stream", F(signer_pinginterval),
	  false },
	{ "signer.pingtimeout", OPT_DURATION, "5s",
	  "signer lost if a ping is unanswered this long",
	  F(signer_pingtimeout), false },
	{ "signer.requesttimeout", OPT_DURATION, "5s",
	  "signer lost if a request is unanswered this long",
	  F(signer_requesttimeout), false },
	/* Safe mode keeps the graph fresh (docs/gossip.md, issue #19). */
	{ "gossip.minsessions", OPT_UINT, "3",
	  "in safe mode, keep at least this many gossip-only sessions by "
	  "dialing persistent peers with a local key that is not the node's "
	  "identity (0: off)", F(gossip_minsessions), false },
	{ "gossip.candidaterefresh", OPT_DURATION, "60s",
	  "while short of --gossip.minsessions local-key sessions (safe mode, "
	  "cluster standby), look this often for more dial candidates in the "
	  "graph (0: only on entering)", F(gossip_candidaterefresh), false },
	/* Standby signers (docs/signer.md, "Standby signers", issue #19). */
	{ "signer.maxsigners", OPT_UINT, "1",
	  "signers connected at once (1..16); above 1, signers proving the "
	  "same node key wait as standby and take over at once when the "
	  "active one is lost", F(signer_maxsigners), false },
	{ "signer.maxinboundecdh", OPT_UINT, "16",
	  "ECDH requests of inbound p2p handshakes (before act three) at the "
	  "signer at once; an act one over it is dropped (0: no limit)",
	  F(signer_maxinboundecdh), false },
	{ "network", OPT_STRING, "mainnet",
	  "chain: mainnet, testnet, signet or regtest", F(network), false },
	{ "debuglevel", OPT_STRING, "info",
	  "log level, lnd style: \"debug\" or \"info,PEER=debug\"",
	  F(debuglevel), false },
	{ "connect", OPT_LIST, NULL,
	  "persistent peer PUBKEY@host:port, redialed forever (repeatable)",
	  F(connect), false },
	{ "fullpeer", OPT_LIST, NULL,
	  "node id PUBKEY always treated as a full peer (repeatable)",
	  F(fullpeer), false },
	{ "signer", OPT_STRING, "remote",
	  "where the node key lives: local (<datadir>/node.key) or remote",
	  F(signer), false },
	{ "handshaketimeout", OPT_DURATION, "10s",
	  "time allowed for the BOLT 8 handshake and init", F(handshaketimeout),
	  false },
	{ "pinginterval", OPT_DURATION, "60s", "time between pings to a peer",
	  F(pinginterval), false },
	{ "maxpeers", OPT_UINT, "1000",
	  "maximum p2p sessions: ready ones and outbound dials; inbound "
	  "connections and one-off dials over it are refused "
	  "(0: no limit)",
	  F(maxpeers), false },
	{ "maxpendinghandshakes", OPT_UINT, "200",
	  "maximum inbound p2p sessions not yet ready (handshake, waiting "
	  "for the signer, init); a new one over it evicts one of them "
	  "(0: no limit)",
	  F(maxpendinghandshakes), false },
	{ "peer.maxbuffer", OPT_UINT, "4194304",
	  "bytes queued to one peer before that peer is dropped (>= 65569)",
	  F(peer_maxbuffer), false },
	{ "rpc.maxstreams", OPT_UINT, "128",
	  "gRPC streams open at once on one connection (1..4294967295); "
	  "a client's stream over it is refused",
	  F(rpc_maxstreams), false },
	/* Connection budgets under floods (docs/hardening.md, issue #13). */
	{ "rpc.maxpreauth", OPT_UINT, "128",
	  "gRPC TCP connections without an authenticated call at most; a new "
	  "one evicts one of them (>= 1)", F(rpc_maxpreauth), false },
	{ "rpc.maxpreauthpersource", OPT_UINT, "32",
	  "of those, per IPv4 address or IPv6 /64; more are closed before TLS "
	  "(0: no limit)", F(rpc_maxpreauthpersource), false },
	{ "rpc.preauthtimeout", OPT_DURATION, "10s",
	  "time from accept to the first authorised gRPC call",
	  F(rpc_preauthtimeout), false },
	{ "signer.maxpreauth", OPT_UINT, "64",
	  "signer-port TCP connections not yet authenticated at most; a new "
	  "one evicts one of them (>= 1)", F(signer_maxpreauth), false },
	{ "signer.maxpreauthpersource", OPT_UINT, "4",
	  "of those, per IPv4 address or IPv6 /64; more are closed before TLS "
	  "(0: no limit)", F(signer_maxpreauthpersource), false },
	{ "signer.preauthtimeout", OPT_DURATION, "10s",
	  "time from accept to the signer's authorised stream",
	  F(signer_preauthtimeout), false },
	{ "peer.maxpreauthpersource", OPT_UINT, "8",
	  "inbound p2p connections before init per IPv4 address or IPv6 /64; "
	  "more are closed before act one (0: no limit)",
	  F(peer_maxpreauthpersource), false },
	{ "peer.actonetimeout", OPT_DURATION, "5s",
	  "time from an inbound p2p accept to BOLT 8 act one",
	  F(peer_actonetimeout), false },
	{ "gossip.maxunverified", OPT_UINT, "200000",
	  "channels stored without a funding-output check (no chain source) "
	  "at most; new channel announcements over it are ignored "
	  "(0: no limit)",
	  F(gossip_maxunverified), false },
	{ "gossip.historicalsyncinterval", OPT_DURATION, "1h",
	  "range sync with one peer this often, to fetch gossip missed while "
	  "running (lnd's historicalsyncinterval; 0: only the first sync and "
	  "those after a chain backend or signer return)",
	  F(gossip_historicalsyncinterval), false },
	/* Operations: lnd's names and defaults. */
	{ "prometheus.enable", OPT_BOOL, "false",
	  "serve Prometheus metrics (GET /metrics, plain HTTP)",
	  F(prometheus_enable), false },
	{ "prometheus.listen", OPT_STRING, NULL,
	  "metrics address host:port; setting it enables the metrics "
	  "(default 127.0.0.1:8989)",
	  F(prometheus_listen), false },
	{ "logdir", OPT_STRING, NULL,
	  "directory for coldnode.log (default <datadir>/logs; \"none\": "
	  "stderr only)",
	  F(logdir), false },
	{ "maxlogfiles", OPT_UINT, "3",
	  "rotated log files kept (0: never rotate)", F(maxlogfiles), false },
	{ "maxlogfilesize", OPT_UINT, "20",
	  "log file size in MB before it is rotated (1..4096)",
	  F(maxlogfilesize), false },
	/* Chain backend (issue #10, docs/chain.md): lnd's names. */
	{ "bitcoin.node", OPT_STRING, "none",
	  "chain backend: none or bitcoind", F(bitcoin_node), false },
	{ "bitcoind.rpchost", OPT_STRING, "127.0.0.1",
	  "bitcoind JSON-RPC host[:port] (port default by --network: 8332, "
	  "18332, 38332, 18443)", F(bitcoind_rpchost), false },
	{ "bitcoind.rpcuser", OPT_STRING, NULL, "bitcoind RPC user",
	  F(bitcoind_rpcuser), false },
	{ "bitcoind.rpcpass", OPT_STRING, NULL, "bitcoind RPC password",
	  F(bitcoind_rpcpass), false },
	{ "bitcoind.rpccookie", OPT_STRING, NULL,
	  "bitcoind's .cookie file (instead of rpcuser/rpcpass; re-read "
	  "when authentication fails)", F(bitcoind_rpccookie), false },
	{ "bitcoind.blockpollinginterval", OPT_DURATION, "10s",
	  "time between best-block polls", F(bitcoind_pollinterval), false },
	{ "bitcoind.zmqpubrawtx", OPT_STRING, NULL,
	  "bitcoind's -zmqpubrawtx, tcp://HOST:PORT: new mempool "
	  "transactions pushed (the mempool is then polled whole only "
	  "every 10th poll and after blocks)", F(bitcoind_zmqpubrawtx),
	  false },
	{ "bitcoind.zmqpubrawblock", OPT_STRING, NULL,
	  "bitcoind's -zmqpubrawblock, tcp://HOST:PORT: a new block polls "
	  "the tip at once", F(bitcoind_zmqpubrawblock), false },
	{ "bitcoind.rpctimeout", OPT_DURATION, "30s",
	  "one JSON-RPC request (connect included); past it the backend "
	  "counts as lost (coldnode's addition)", F(bitcoind_rpctimeout),
	  false },
	{ "bitcoind.maxfundingchecks", OPT_UINT, "20000",
	  "channel funding-output checks queued at most (about 200 bytes "
	  "each); over it an announcement is stored unverified and the "
	  "background check waits (1..1000000, coldnode's addition)",
	  F(bitcoind_maxfundingchecks), false },
	/* Watch-only wallet (issue #11, docs/wallet.md). */
	{ "wallet.accounts", OPT_STRING, NULL,
	  "lncli wallet accounts list JSON of the signer, imported at start "
	  "(again: a no-op)", F(wallet_accounts), false },
	{ "wallet.birthday", OPT_UINT, "0",
	  "first block height scanned for --wallet.accounts (0: the tip)",
	  F(wallet_birthday), false },
	{ "wallet.gaplimit", OPT_UINT, "20",
	  "unused addresses watched past the last used one, per branch "
	  "(1..100000)", F(wallet_gaplimit), false },
	/* Leader election (issue #20, docs/cluster.md): lnd's names; the
	 * etcd endpoint and credentials under cluster.etcd.* (lnd: db.etcd.*). */
	{ "cluster.enable-leader-election", OPT_BOOL, "false",
	  "elect one leader among coldnode instances through etcd; the "
	  "others stand by", F(cluster_enable), false },
	{ "cluster.id", OPT_STRING, NULL,
	  "this instance's name in the election (default the host name)",
	  F(cluster_id), false },
	{ "cluster.etcd-election-prefix", OPT_STRING, "/coldnode/leader/",
	  "etcd key prefix of the election", F(cluster_prefix), false },
	{ "cluster.leader-session-ttl", OPT_DURATION, "10s",
	  "etcd lease TTL: a dead leader is replaced after about this long; "
	  "at least 2s", F(cluster_ttl), false },
	{ "cluster.etcd.host", OPT_LIST, NULL,
	  "etcd member host:port (repeatable; tried in turn)",
	  F(cluster_etcd_host), false },
	{ "cluster.etcd.user", OPT_STRING, NULL, "etcd user",
	  F(cluster_etcd_user), false },
	{ "cluster.etcd.pass", OPT_STRING, NULL, "etcd password",
	  F(cluster_etcd_pass), false },
	{ "cluster.etcd.cacert", OPT_STRING, NULL,
	  "CA certificate for etcd's TLS (setting it or --cluster.etcd.cert "
	  "uses https)", F(cluster_etcd_cacert), false },
	{ "cluster.etcd.cert", OPT_STRING, NULL,
	  "client certificate for etcd", F(cluster_etcd_cert), false },
	{ "cluster.etcd.key", OPT_STRING, NULL,
	  "client key for etcd", F(cluster_etcd_key), false },
	{ "signerproxy.listen", OPT_STRING, NULL,
	  "serve lnd's remote-signer API (signrpc, SignPsbt) to a watch-only "
	  "lnd at host:port and forward it to the signer that dials in; lnd "
	  "then owns the p2p identity and coldnode's p2p stays off (off by "
	  "default)", F(signerproxy_listen), false },
	{ "signerproxy.holdtime", OPT_DURATION, "3s",
	  "how long a forwarded call waits for a signer to be connected "
	  "before it fails with FAILED_PRECONDITION (keep it below lnd's "
	  "remotesigner.timeout, 5s)", F(signerproxy_holdtime), false },
	{ "signerproxy.maxstreams", OPT_UINT, "2048",
	  "forwarded calls at once per lnd connection",
	  F(signerproxy_maxstreams), false },
	{ "alias", OPT_STRING, "", "node alias (UTF-8, up to 32 bytes)", F(alias),
	  false },
	{ "color", OPT_STRING, "#3399ff", "node color #rrggbb", F(color),
	  false },
};

/* Which source set a list first, so a later source replaces it. */
enum source { SRC_DEFAULT, SRC_FILE, SRC_CMDLINE };

struct loader {
	struct daemon_config *cfg;
	FILE *errf;
	enum source list_src[CN_ARRAY_SIZE(opts)];
};

static void *field(struct daemon_config *cfg, const struct opt *o)
{
	return (char *)cfg + o->off;
}

static bool fail(struct loader *ld, const char *fmt, ...) CN_PRINTF(2, 3);
static bool fail(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	fprintf(ld->errf, "coldnode: ");
	va_start(ap, fmt);
	vfprintf(ld->errf, fmt, ap);
	va_end(ap);
	fprintf(ld->errf, "\n");
	return false;
}

static bool parse_bool(bool *out, const char *v)
{
	if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes")) {
		*out = true;
		return true;
	}
	if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no")) {
		*out = false;
		return true;
	}
	return false;
}

/* Longest duration accepted: a year.  Every duration here is a timeout or
 * an interval; "1e306h" (infinity once in seconds) or a century would
 * only turn a check off by accident. */
#define MAX_DURATION_SECS (366.0 * 24 * 3600)

static bool parse_duration(double *out, const char *v)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (end == v || errno || !isfinite(d) || d < 0)
		return false;
	if (!*end || !strcmp(end, "s"))
		;
	else if (!strcmp(end, "ms"))
		d /= 1000;
	else if (!strcmp(end, "m"))
		d *= 60;
	else if (!strcmp(end, "h"))
		d *= 3600;
	else
		return false;
	if (!isfinite(d) || d > MAX_DURATION_SECS)
		return false;
	*out = d;
	return true;
}

static bool parse_uint(uint64_t *out, const char *v)
{
	char *end;

	if (!*v || *v == '-' || *v == '+')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !*end && !errno;
}

static void strlist_clear(struct daemon_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool strlist_add(struct daemon_strlist *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return false;
	l->v = v;
	l->v[l->n] = strdup(s);
	if (!l->v[l->n])
		return false;
	l->n++;
	return true;
}

/* Option values can be secrets (--bitcoind.rpcpass): none is left in freed
 * heap memory. */
static void opt_str_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

/* Set option @o from text @v coming from @src. */
static bool set_opt(struct loader *ld, const struct opt *o, const char *v,
		    enum source src)
{
	void *f = field(ld->cfg, o);
	size_t idx = (size_t)(o - opts);

	switch (o->type) {
	case OPT_STRING: {
		char *s = strdup(v);
		if (!s)
			return fail(ld, "out of memory");
		opt_str_free(*(char **)f);
		*(char **)f = s;
		return true;
	}
	case OPT_LIST:
		if (ld->list_src[idx] != src) {
			strlist_clear(f);
			ld->list_src[idx] = src;
		}
		if (!strlist_add(f, v))
			return fail(ld, "out of memory");
		return true;
	case OPT_BOOL:
		if (!parse_bool(f, v))
			return fail(ld, "--%s: '%s' is not true or false",
				    o->name, v);
		return true;
	case OPT_DURATION:
		if (!parse_duration(f, v))
			return fail(ld,
				    "--%s: '%s' is not a duration of at most "
				    "8784h (e.g. 10s, 500ms, 2m)",
				    o->name, v);
		return true;
	case OPT_UINT:
		if (!parse_uint(f, v))
			return fail(ld, "--%s: '%s' is not a number", o->name,
				    v);
		return true;
	}
	abort();
}

static const struct opt *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(opts); i++)
		if (strlen(opts[i].name) == len &&
		    !strncmp(opts[i].name, name, len))
			return &opts[i];
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Longest config line, its newline excluded.  A longer one is refused,
 * never cut: the rest of a cut line would be parsed as a line of its own,
 * so a long value could smuggle in an option. */
#define MAX_CONF_LINE 1024

static bool load_file(struct loader *ld, const char *path, bool must_exist)
{
	FILE *f = fopen(path, "r");
	/* +2: the newline and the NUL, so a line of exactly MAX_CONF_LINE
	 * bytes fits whole and a longer one is seen to be longer. */
	char line[MAX_CONF_LINE + 2];
	unsigned lineno = 0;
	bool ok = true;

	if (!f) {
		if (!must_exist && errno == ENOENT)
			return true;
		return fail(ld, "cannot read config file %s: %s", path,
			    strerror(errno));
	}
	while (ok && fgets(line, sizeof(line), f)) {
		char *s, *eq;
		const struct opt *o;
		size_t len = strlen(line);

		lineno++;
		if (len > MAX_CONF_LINE && line[len - 1] != '\n') {
			ok = fail(ld, "%s:%u: line longer than %d bytes", path,
				  lineno, MAX_CONF_LINE);
			break;
		}
		if (len && line[len - 1] != '\n' && !feof(f)) {
			/* fgets stopped early without a newline: a NUL
			 * byte inside the line. */
			ok = fail(ld, "%s:%u: line with a NUL byte", path,
				  lineno);
			break;
		}
		s = trim(line);
		/* Comments, blank lines, and [Section] headers (lnd groups
		 * options in sections; we ignore the names). */
		if (!*s || *s == '#' || *s == ';' || *s == '[')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			ok = fail(ld, "%s:%u: expected name=value", path,
				  lineno);
			break;
		}
		*eq = '\0';
		s = trim(s);
		o = find_opt(s, strlen(s));
		if (!o || o->cmdline_only) {
			ok = fail(ld, "%s:%u: unknown option '%s'", path,
				  lineno, s);
			break;
		}
		ok = set_opt(ld, o, trim(eq + 1), SRC_FILE);
		if (!ok)
			fprintf(ld->errf, "coldnode: (in %s line %u)\n", path,
				lineno);
	}
	/* Values can be secrets (--bitcoind.rpcpass). */
	sodium_memzero(line, sizeof(line));
	fclose(f);
	return ok;
}

/* Walk argv; with @only set, apply just that option (to find --datadir
 * and --configfile before reading the file). */
static bool load_argv(struct loader *ld, int argc, char *const *argv,
		      const struct opt *only)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *val = NULL;
		const struct opt *o;
		size_t nlen;

		if (!strcmp(a, "-h"))
			a = "--help";
		if (strncmp(a, "--", 2) != 0)
			return fail(ld, "unexpected argument '%s'", a);
		name = a + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		o = find_opt(name, nlen);
		if (!o)
			return fail(ld, "unknown option '--%.*s' (see --help)",
				    (int)nlen, name);
		if (eq)
			val = eq + 1;
		else if (o->type == OPT_BOOL)
			val = "true";
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return fail(ld, "--%s needs a value", o->name);
		if (only && o != only)
			continue;
		if (!set_opt(ld, o, val, SRC_CMDLINE))
			return false;
	}
	return true;
}

bool daemon_network_chain_hash(uint8_t out[32], const char *network)
{
	/* BOLT #0: chain_hash is the genesis block hash in wire (internal
	 * byte) order, the reverse of the usual display. */
	static const struct {
		const char *name;
		const char *hash;
	} nets[] = {
		{ "mainnet",
		  "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000" },
		{ "testnet",
		  "43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000" },
		{ "signet",
		  "f61eee3b63a380a477a063af32b2bbc97c9ff9f01f2c4225e973988108000000" },
		{ "regtest",
		  "06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f" },
	};

	for (size_t i = 0; i < CN_ARRAY_SIZE(nets); i++)
		if (!strcmp(network, nets[i].name))
			return hex_decode(out, 32, nets[i].hash);
	return false;
}

/* --cluster.*: etcd's minimum lease is 2 s; the standby answers signers,
 * so the signer must be remote. */
static bool cluster_finish(struct loader *ld)
{
	struct daemon_config *cfg = ld->cfg;
	char host[256];
	uint16_t port;

	if (cfg->cluster_ttl < 2)
		return fail(ld, "--cluster.leader-session-ttl: %.3gs is below "
			    "etcd's minimum lease of 2s", cfg->cluster_ttl);
	if (!cfg->cluster_etcd_host.n)
		return fail(ld, "--cluster.enable-leader-election needs at "
			    "least one --cluster.etcd.host=HOST:PORT");
	for (size_t i = 0; i < cfg->cluster_etcd_host.n; i++)
		if (!cn_split_hostport(host, sizeof(host), &port,
				       cfg->cluster_etcd_host.v[i]) || !port)
			return fail(ld, "--cluster.etcd.host: '%s' is not "
				    "host:port", cfg->cluster_etcd_host.v[i]);
	if (cfg->signer_kind != DAEMON_SIGNER_REMOTE)
		return fail(ld, "--cluster.enable-leader-election needs "
			    "--signer=remote: the node key must not be on "
			    "every instance");
	if (!cfg->cluster_prefix || !*cfg->cluster_prefix)
		return fail(ld, "--cluster.etcd-election-prefix is empty");
	if (!!cfg->cluster_etcd_user != !!cfg->cluster_etcd_pass)
		return fail(ld, "--cluster.etcd.user and --cluster.etcd.pass "
			    "go together");
	if (!!cfg->cluster_etcd_cert != !!cfg->cluster_etcd_key)
		return fail(ld, "--cluster.etcd.cert and --cluster.etcd.key "
			    "go together");
	if (cfg->cluster_prefix[strlen(cfg->cluster_prefix) - 1] != '/') {
		char *p = NULL;
		if (asprintf(&p, "%s/", cfg->cluster_prefix) < 0)
			return fail(ld, "out of memory");
		opt_str_free(cfg->cluster_prefix);
		cfg->cluster_prefix = p;
	}
	if (!cfg->cluster_id) {
		char hn[256] = "";
		if (gethostname(hn, sizeof(hn) - 1) != 0 || !hn[0])
			return fail(ld, "--cluster.id: no host name; set it");
		cfg->cluster_id = strdup(hn);
		if (!cfg->cluster_id)
			return fail(ld, "out of memory");
	}
	if (strlen(cfg->cluster_id) > 100)
		return fail(ld, "--cluster.id: longer than 100 bytes");
	return true;
}

/* --signerproxy.listen: lnd owns the node's p2p identity (it holds the
 * channels and signs with the node key through us), so coldnode must not
 * run p2p under the same key at the same time.  Options that only make
 * sense with coldnode's own p2p are contradictions, refused by name. */
static bool signerproxy_check(struct loader *ld)
{
	struct daemon_config *cfg = ld->cfg;
	char host[256];
	uint16_t port;
	size_t listen_idx = 0;

	if (!cn_split_hostport(host, sizeof(host), &port,
			       cfg->signerproxy_listen))
		return fail(ld, "--signerproxy.listen: '%s' is not host:port",
			    cfg->signerproxy_listen);
	if (cfg->signer_kind == DAEMON_SIGNER_LOCAL)
		return fail(ld, "--signerproxy.listen forwards lnd's calls to "
			    "a remote signer that dials in; it cannot be used "
			    "with --signer=local");
	if (cfg->cluster_enable)
		return fail(ld, "--signerproxy.listen and "
			    "--cluster.enable-leader-election cannot be used "
			    "together: in proxy mode lnd owns the node's "
			    "identity, and lnd runs its own leader election");
	if (cfg->signerproxy_holdtime <= 0)
		return fail(ld, "--signerproxy.holdtime must be positive");
	if (cfg->signerproxy_maxstreams == 0 ||
	    cfg->signerproxy_maxstreams > UINT32_MAX)
		return fail(ld, "--signerproxy.maxstreams: %" PRIu64 " is not "
			    "in 1..4294967295", cfg->signerproxy_maxstreams);
	for (size_t i = 0; i < CN_ARRAY_SIZE(opts); i++)
		if (!strcmp(opts[i].name, "listen"))
			listen_idx = i;
	if (ld->list_src[listen_idx] != SRC_DEFAULT && !cfg->nolisten)
		return fail(ld, "--signerproxy.listen: lnd owns the node's p2p "
			    "identity in this mode, so coldnode runs no p2p; "
			    "remove --listen");
	if (cfg->connect.n)
		return fail(ld, "--signerproxy.listen: lnd owns the node's p2p "
			    "identity in this mode, so coldnode runs no p2p; "
			    "remove --connect (connect lnd instead)");
	if (cfg->fullpeer.n)
		return fail(ld, "--signerproxy.listen: lnd owns the node's p2p "
			    "identity in this mode, so coldnode runs no p2p; "
			    "remove --fullpeer");
	if (cfg->alias[0])
		return fail(ld, "--signerproxy.listen: lnd announces the node "
			    "in this mode; remove --alias (set it in lnd.conf)");
	/* Port 0 (pick one) may repeat: each listener gets its own. */
	if (port != 0 && !strcmp(cfg->signerproxy_listen, cfg->signerlisten))
		return fail(ld, "--signerproxy.listen and --signerlisten are "
			    "both %s: the signer and lnd need a port each",
			    cfg->signerlisten);
	for (size_t i = 0; i < cfg->rpclisten.n; i++)
		if (port != 0 &&
		    !strcmp(cfg->signerproxy_listen, cfg->rpclisten.v[i]))
			return fail(ld, "--signerproxy.listen and --rpclisten "
				    "are both %s", cfg->rpclisten.v[i]);
	return true;
}

/* Checks that need more than the type: enums, keys, colors. */
static bool finish(struct loader *ld)
{
	struct daemon_config *cfg = ld->cfg;
	char *dd;
	unsigned r, g, b;
	char tail;

	/* Paths may come from the config file or as --opt=~/x, which the
	 * shell does not expand. */
	char **paths[] = { &cfg->datadir, &cfg->tlscertpath, &cfg->tlskeypath,
			   &cfg->rpcunix, &cfg->signer_unix, &cfg->logdir,
			   &cfg->bitcoind_rpccookie, &cfg->wallet_accounts,
			   &cfg->cluster_etcd_cacert, &cfg->cluster_etcd_cert,
			   &cfg->cluster_etcd_key };
	for (size_t i = 0; i < CN_ARRAY_SIZE(paths); i++) {
		if (!*paths[i])
			continue;
		dd = cn_expand_home(*paths[i]);
		if (!dd && errno == ENOENT)
			return fail(ld, "cannot expand '%s': no such user, or "
				    "HOME is not set and the user has no home "
				    "directory", *paths[i]);
		if (!dd)
			return fail(ld, "out of memory");
		free(*paths[i]);
		*paths[i] = dd;
	}
	if (!daemon_network_chain_hash(cfg->chain_hash, cfg->network))
		return fail(ld,
			    "--network: '%s' is not mainnet, testnet, signet or "
			    "regtest",
			    cfg->network);
	if (!strcmp(cfg->signer, "local"))
		cfg->signer_kind = DAEMON_SIGNER_LOCAL;
	else if (!strcmp(cfg->signer, "remote"))
		cfg->signer_kind = DAEMON_SIGNER_REMOTE;
	else
		return fail(ld, "--signer: '%s' is not local or remote",
			    cfg->signer);
	if (strcmp(cfg->bitcoin_node, "none") &&
	    strcmp(cfg->bitcoin_node, "bitcoind"))
		return fail(ld, "--bitcoin.node: '%s' is not none or bitcoind",
			    cfg->bitcoin_node);
	if (!strcmp(cfg->bitcoin_node, "bitcoind") &&
	    !cfg->bitcoind_rpccookie &&
	    (!cfg->bitcoind_rpcuser || !cfg->bitcoind_rpcpass))
		return fail(ld, "--bitcoin.node=bitcoind needs "
			    "--bitcoind.rpcuser and --bitcoind.rpcpass, or "
			    "--bitcoind.rpccookie");
	/* 0 would refuse every check (and chain_new reads 0 as its
	 * default); a million is ~200 MB of queued checks. */
	if (cfg->bitcoind_maxfundingchecks == 0 ||
	    cfg->bitcoind_maxfundingchecks > 1000000)
		return fail(ld, "--bitcoind.maxfundingchecks: %" PRIu64 " is "
			    "not in 1..1000000",
			    cfg->bitcoind_maxfundingchecks);
	/* lnd's form: bitcoind publishes on TCP only (-zmqpub*=tcp://). */
	const char *zname[] = { "zmqpubrawtx", "zmqpubrawblock" };
	const char *zval[] = { cfg->bitcoind_zmqpubrawtx,
			       cfg->bitcoind_zmqpubrawblock };
	for (size_t i = 0; i < 2; i++)
		if (zval[i] && (strncmp(zval[i], "tcp://", 6) ||
				!strchr(zval[i] + 6, ':')))
			return fail(ld, "--bitcoind.%s: '%s' is not "
				    "tcp://HOST:PORT", zname[i], zval[i]);
	if (!log_parse_debuglevel(cfg->debuglevel))
		return fail(ld, "--debuglevel: cannot parse '%s'",
			    cfg->debuglevel);
	for (size_t i = 0; i < cfg->tlsextraip.n; i++) {
		uint8_t ip[16];
		if (inet_pton(AF_INET, cfg->tlsextraip.v[i], ip) != 1 &&
		    inet_pton(AF_INET6, cfg->tlsextraip.v[i], ip) != 1)
			return fail(ld, "--tlsextraip: '%s' is not an IPv4 or "
				    "IPv6 address", cfg->tlsextraip.v[i]);
	}
	if (strlen(cfg->alias) > 32)
		return fail(ld, "--alias: longer than 32 bytes");
	/* BOLT 7's alias is UTF-8: refused here rather than by the
	 * signer's policy when the announcement is to be signed. */
	if (!cn_utf8_valid((const uint8_t *)cfg->alias, strlen(cfg->alias)))
		return fail(ld, "--alias: not valid UTF-8");
	if (sscanf(cfg->color, "#%2x%2x%2x%c", &r, &g, &b, &tail) != 3 ||
	    strlen(cfg->color) != 7)
		return fail(ld, "--color: '%s' is not #rrggbb", cfg->color);
	cfg->rgb[0] = (uint8_t)r;
	cfg->rgb[1] = (uint8_t)g;
	cfg->rgb[2] = (uint8_t)b;
	if (cfg->handshaketimeout <= 0)
		return fail(ld, "--handshaketimeout must be positive");
	if (cfg->signer_maxsigners < 1 || cfg->signer_maxsigners > 16)
		return fail(ld, "--signer.maxsigners: %" PRIu64 " is not in "
			    "1..16", cfg->signer_maxsigners);
	/* One largest message (65535 bytes, BOLT 8 framed) must fit. */
	if (cfg->peer_maxbuffer < 18 + 65535 + 16)
		return fail(ld, "--peer.maxbuffer: %" PRIu64 " is below one "
			    "framed 65535-byte message (65569)",
			    cfg->peer_maxbuffer);
	/* Sent as SETTINGS_MAX_CONCURRENT_STREAMS, a 32-bit value; 0 would
	 * refuse every call. */
	if (cfg->rpc_maxstreams == 0 || cfg->rpc_maxstreams > UINT32_MAX)
		return fail(ld, "--rpc.maxstreams: %" PRIu64 " is not in "
			    "1..4294967295", cfg->rpc_maxstreams);
	if (cfg->maxlogfilesize == 0 || cfg->maxlogfilesize > 4096)
		return fail(ld, "--maxlogfilesize: %" PRIu64 " MB is not in "
			    "1..4096", cfg->maxlogfilesize);
	if (cfg->prometheus_listen) {
		char host[256];
		uint16_t port;
		if (!cn_split_hostport(host, sizeof(host), &port,
				       cfg->prometheus_listen))
			return fail(ld, "--prometheus.listen: '%s' is not "
				    "host:port", cfg->prometheus_listen);
		cfg->prometheus_enable = true;
	}
	if (cfg->rpc_maxpreauth == 0 || cfg->signer_maxpreauth == 0)
		return fail(ld, "--rpc.maxpreauth and --signer.maxpreauth must "
			    "be at least 1");
	/* 0 would ping the signer in a busy loop, or time every request
	 * out at once. */
	if (cfg->signer_requesttimeout <= 0 || cfg->signer_pinginterval <= 0)
		return fail(ld, "--signer.requesttimeout and "
			    "--signer.pinginterval must be positive");
	if (cfg->rpc_preauthtimeout <= 0 || cfg->signer_preauthtimeout <= 0 ||
	    cfg->peer_actonetimeout <= 0)
		return fail(ld, "--rpc.preauthtimeout, --signer.preauthtimeout "
			    "and --peer.actonetimeout must be positive");
	if (cfg->wallet_gaplimit == 0 || cfg->wallet_gaplimit > 100000)
		return fail(ld, "--wallet.gaplimit: %" PRIu64 " is not in "
			    "1..100000", cfg->wallet_gaplimit);
	if (cfg->wallet_birthday > UINT32_MAX)
		return fail(ld, "--wallet.birthday: %" PRIu64 " is not a "
			    "block height", cfg->wallet_birthday);
	if (cfg->signerproxy_listen && !signerproxy_check(ld))
		return false;
	if (cfg->fullpeer.n) {
		cfg->fullpeer_ids = calloc(cfg->fullpeer.n, 33);
		if (!cfg->fullpeer_ids)
			return fail(ld, "out of memory");
	}
	for (size_t i = 0; i < cfg->fullpeer.n; i++) {
		if (!hex_decode(cfg->fullpeer_ids[i], 33, cfg->fullpeer.v[i]) ||
		    (cfg->fullpeer_ids[i][0] != 2 &&
		     cfg->fullpeer_ids[i][0] != 3))
			return fail(ld,
				    "--fullpeer: '%s' is not a 33-byte "
				    "compressed public key in hex",
				    cfg->fullpeer.v[i]);
	}
	if (cfg->cluster_enable && !cluster_finish(ld))
		return false;
	for (size_t i = 0; i < cfg->connect.n; i++) {
		const char *at = strchr(cfg->connect.v[i], '@');
		if (!at || at - cfg->connect.v[i] != 66 || !strchr(at, ':'))
			return fail(ld,
				    "--connect: '%s' is not PUBKEY@host:port",
				    cfg->connect.v[i]);
	}
	return true;
}

void daemon_config_free(struct daemon_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < CN_ARRAY_SIZE(opts); i++) {
		void *f = field(cfg, &opts[i]);
		switch (opts[i].type) {
		case OPT_STRING:
			opt_str_free(*(char **)f);
			break;
		case OPT_LIST:
			strlist_clear(f);
			break;
		case OPT_BOOL:
		case OPT_DURATION:
		case OPT_UINT:
			break;
		}
	}
	free(cfg->fullpeer_ids);
	free(cfg);
}

void daemon_config_usage(FILE *f)
{
	fprintf(f, "Usage: coldnode [OPTIONS]\n\n"
		   "Options (also accepted as name=value lines in "
		   "coldnode.conf; flags win):\n");
	for (size_t i = 0; i < CN_ARRAY_SIZE(opts); i++) {
		const struct opt *o = &opts[i];
		char left[64];
		snprintf(left, sizeof(left), "--%s%s", o->name,
			 o->type == OPT_BOOL ? "" : "=VALUE");
		fprintf(f, "  %-28s %s", left, o->help);
		if (o->def && o->type != OPT_BOOL)
			fprintf(f, " (default: %s)", *o->def ? o->def : "\"\"");
		fprintf(f, "\n");
	}
}

enum daemon_config_result daemon_config_load(struct daemon_config **out,
					     int argc, char *const *argv,
					     FILE *errf)
{
	struct loader ld = { .errf = errf };
	struct daemon_config *cfg = calloc(1, sizeof(*cfg));
	const struct opt *o_datadir = find_opt("datadir", 7);
	const struct opt *o_configfile = find_opt("configfile", 10);
	char *path = NULL;
	bool ok = true;

	*out = NULL;
	if (!cfg) {
		fprintf(errf, "coldnode: out of memory\n");
		return DAEMON_CONFIG_ERROR;
	}
	ld.cfg = cfg;
	for (size_t i = 0; i < CN_ARRAY_SIZE(opts) && ok; i++)
		if (opts[i].def)
			ok = set_opt(&ld, &opts[i], opts[i].def, SRC_DEFAULT);
	/* Validate the whole command line first, then learn where the file
	 * is, read it, and apply the command line again on top. */
	ok = ok && load_argv(&ld, argc, argv, find_opt("help", 4)) &&
	     load_argv(&ld, argc, argv, o_datadir) &&
	     load_argv(&ld, argc, argv, o_configfile);
	if (ok && cfg->help) {
		daemon_config_usage(stdout);
		daemon_config_free(cfg);
		return DAEMON_CONFIG_HELP;
	}
	if (ok) {
		const char *p = cfg->configfile ? cfg->configfile
						 : cfg->datadir;
		char *dd = cn_expand_home(p);
		if (!dd)
			ok = fail(&ld, "cannot expand '%s': %s", p,
				  errno == ENOENT
				  ? "no such user, or HOME is not set and the "
				    "user has no home directory"
				  : strerror(errno));
		else if (cfg->configfile)
			ok = load_file(&ld, dd, true);
		else if (asprintf(&path, "%s/coldnode.conf", dd) < 0)
			ok = fail(&ld, "out of memory");
		else
			ok = load_file(&ld, path, false);
		free(dd);
		free(path);
	}
	ok = ok && load_argv(&ld, argc, argv, NULL) && finish(&ld);
	if (!ok) {
		daemon_config_free(cfg);
		return DAEMON_CONFIG_ERROR;
	}
	*out = cfg;
	return DAEMON_CONFIG_OK;
}
