/* Unit tests for the daemon's config loader: defaults, ini file, flags
 * override, repeatable options, errors. */
#include "check.h"

#include "common/common.h"
#include "daemon/config.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static FILE *sink;

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static enum daemon_config_result load(struct daemon_config **cfg, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	const char *a;

	argv[argc++] = "coldnode";
	va_start(ap, cfg);
	while ((a = va_arg(ap, const char *)) != NULL)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return daemon_config_load(cfg, argc, argv, sink);
}

static void test_defaults(void)
{
	struct daemon_config *cfg;
	char dd[300];
	uint8_t mainnet[32];

	snprintf(dd, sizeof(dd), "--datadir=%s/empty", tmpdir);
	CHECK(load(&cfg, dd, NULL) == DAEMON_CONFIG_OK);
	CHECK(cfg->listen.n == 1 &&
	      strcmp(cfg->listen.v[0], "0.0.0.0:9735") == 0);
	CHECK(cfg->rpclisten.n == 1 &&
	      strcmp(cfg->rpclisten.v[0], "127.0.0.1:10009") == 0);
	CHECK(strcmp(cfg->signerlisten, "127.0.0.1:10019") == 0);
	CHECK(cfg->signer_kind == DAEMON_SIGNER_REMOTE);
	CHECK(cfg->handshaketimeout == 10);
	CHECK(cfg->pinginterval == 60);
	CHECK(!cfg->nolisten);
	CHECK(hex_decode(mainnet, 32,
			 "6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6"
			 "190000000000"));
	CHECK_MEM(cfg->chain_hash, mainnet, 32);
	daemon_config_free(cfg);

	/* ~ expands to $HOME. */
	setenv("HOME", "/home/x", 1);
	CHECK(load(&cfg, NULL) == DAEMON_CONFIG_OK);
	CHECK(strcmp(cfg->datadir, "/home/x/.coldnode") == 0);
	daemon_config_free(cfg);
}

static void test_file_and_flags(void)
{
	struct daemon_config *cfg;
	char dd[300];

	write_file("coldnode.conf",
		   "; lnd-style file\n"
		   "[Application Options]\n"
		   "# comment\n"
		   "  network = regtest\n"
		   "listen=127.0.0.1:1111\n"
		   "listen=127.0.0.1:2222\n"
		   "pinginterval=500ms\n"
		   "signer=local\n"
		   "alias=cold\n"
		   "[Other Section]\n"
		   "nolisten=true\n",
		   0600);
	snprintf(dd, sizeof(dd), "--datadir=%s", tmpdir);
	CHECK(load(&cfg, dd, NULL) == DAEMON_CONFIG_OK);
	CHECK(strcmp(cfg->network, "regtest") == 0);
	CHECK(cfg->listen.n == 2);
	CHECK(cfg->pinginterval == 0.5);
	CHECK(cfg->signer_kind == DAEMON_SIGNER_LOCAL);
	CHECK(strcmp(cfg->alias, "cold") == 0);
	CHECK(cfg->nolisten);
	daemon_config_free(cfg);

	/* Flags override the file; a list given on the command line
	 * replaces the file's list; both "--x=v" and "--x v" work. */
	CHECK(load(&cfg, dd, "--network", "testnet", "--listen=127.0.0.1:3333",
		   "--pinginterval", "2m", "--nolisten=false", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(strcmp(cfg->network, "testnet") == 0);
	CHECK(cfg->listen.n == 1 &&
	      strcmp(cfg->listen.v[0], "127.0.0.1:3333") == 0);
	CHECK(cfg->pinginterval == 120);
	CHECK(!cfg->nolisten);
	daemon_config_free(cfg);

	/* The resource limits of docs/hardening.md, each a flag. */
	CHECK(load(&cfg, dd, "--maxpendinghandshakes=3", "--peer.maxbuffer=70000",
		   "--rpc.maxstreams=5", "--gossip.maxunverified=9", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(cfg->maxpendinghandshakes == 3 && cfg->peer_maxbuffer == 70000);
	CHECK(cfg->rpc_maxstreams == 5 && cfg->gossip_maxunverified == 9);
	daemon_config_free(cfg);

	/* Operations (issue 12): lnd's names and defaults; metrics off
	 * unless enabled or given an address. */
	CHECK(load(&cfg, dd, NULL) == DAEMON_CONFIG_OK);
	CHECK(!cfg->prometheus_enable && !cfg->prometheus_listen);
	CHECK(!cfg->logdir && cfg->maxlogfiles == 3 &&
	      cfg->maxlogfilesize == 20);
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, "--prometheus.enable", NULL) == DAEMON_CONFIG_OK);
	CHECK(cfg->prometheus_enable && !cfg->prometheus_listen);
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, "--prometheus.listen=127.0.0.1:0",
		   "--logdir=~/l", "--maxlogfiles=0", "--maxlogfilesize=1",
		   NULL) == DAEMON_CONFIG_OK);
	CHECK(cfg->prometheus_enable &&
	      strcmp(cfg->prometheus_listen, "127.0.0.1:0") == 0);
	CHECK(cfg->logdir && cfg->logdir[0] == '/' &&
	      strcmp(cfg->logdir + strlen(cfg->logdir) - 2, "/l") == 0);
	CHECK(cfg->maxlogfiles == 0 && cfg->maxlogfilesize == 1);
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, "--prometheus.listen=8989", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--prometheus.listen=127.0.0.1:99999", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--maxlogfilesize=0", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--maxlogfilesize=5000", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--maxlogfiles=x", NULL) == DAEMON_CONFIG_ERROR);

	/* --configfile elsewhere. */
	{
		char cf[300];
		write_file("other.conf", "maxpeers=7\n", 0600);
		snprintf(cf, sizeof(cf), "--configfile=%s/other.conf", tmpdir);
		CHECK(load(&cfg, dd, cf, NULL) == DAEMON_CONFIG_OK);
		CHECK(cfg->maxpeers == 7);
		CHECK(strcmp(cfg->network, "mainnet") == 0);
		daemon_config_free(cfg);
		snprintf(cf, sizeof(cf), "--configfile=%s/missing.conf",
			 tmpdir);
		CHECK(load(&cfg, dd, cf, NULL) == DAEMON_CONFIG_ERROR);
	}
}

static void test_errors(void)
{
	struct daemon_config *cfg;
	char dd[300], cf[300];

	snprintf(dd, sizeof(dd), "--datadir=%s/empty", tmpdir);
	CHECK(load(&cfg, dd, "--nosuch", NULL) == DAEMON_CONFIG_ERROR);
	CHECK(cfg == NULL);
	CHECK(load(&cfg, dd, "--network=moon", NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--signer=hsm", NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--pinginterval=fast", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--maxpeers=-1", NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--maxpeers", NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--color=red", NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--fullpeer=02abcd", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--connect=nothing", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--debuglevel=loud", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--nolisten=maybe", NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "stray", NULL) == DAEMON_CONFIG_ERROR);
	/* TLS names like lnd: --tlsextraip takes IP literals only. */
	CHECK(load(&cfg, dd, "--tlsextraip=signer.lan", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--tlsextraip=10.0.0.5", "--tlsextraip=fd00::5",
		   "--tlsautorefresh", NULL) == DAEMON_CONFIG_OK);
	CHECK(cfg->tlsextraip.n == 2 && cfg->tlsautorefresh);
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, NULL) == DAEMON_CONFIG_OK);
	CHECK(cfg->tlsextraip.n == 0 && !cfg->tlsautorefresh);
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, "--help", NULL) == DAEMON_CONFIG_HELP);
	/* Bad lines in the file. */
	write_file("bad.conf", "nosuch=1\n", 0600);
	snprintf(cf, sizeof(cf), "--configfile=%s/bad.conf", tmpdir);
	CHECK(load(&cfg, dd, cf, NULL) == DAEMON_CONFIG_ERROR);
	write_file("bad.conf", "justtext\n", 0600);
	CHECK(load(&cfg, dd, cf, NULL) == DAEMON_CONFIG_ERROR);
	/* datadir only on the command line. */
	write_file("bad.conf", "datadir=/x\n", 0600);
	CHECK(load(&cfg, dd, cf, NULL) == DAEMON_CONFIG_ERROR);
	/* Valid fullpeer. */
	CHECK(load(&cfg, dd,
		   "--fullpeer=028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8"
		   "daa612b469132ec7f7",
		   NULL) == DAEMON_CONFIG_OK);
	CHECK(cfg->fullpeer.n == 1 && cfg->fullpeer_ids[0][0] == 0x02 &&
	      cfg->fullpeer_ids[0][32] == 0xf7);
	daemon_config_free(cfg);
}

/* Leader election (docs/cluster.md): lnd's names, etcd's minimum TTL. */
static void test_cluster_options(void)
{
	struct daemon_config *cfg;
	char dd[300];
	const char *on = "--cluster.enable-leader-election";
	const char *host = "--cluster.etcd.host=127.0.0.1:2379";

	snprintf(dd, sizeof(dd), "--datadir=%s/empty", tmpdir);
	CHECK(load(&cfg, dd, NULL) == DAEMON_CONFIG_OK);
	CHECK(!cfg->cluster_enable && cfg->cluster_ttl == 10 &&
	      !strcmp(cfg->cluster_prefix, "/coldnode/leader/"));
	daemon_config_free(cfg);
	/* No etcd member, a bad one, a TTL below 2 s, a local key. */
	CHECK(load(&cfg, dd, on, NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, on, "--cluster.etcd.host=etcd", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, on, host, "--cluster.leader-session-ttl=1s",
		   NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, on, host, "--cluster.leader-session-ttl=1999ms",
		   NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, on, host, "--signer=local", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, on, host, "--cluster.etcd.user=root", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, on, host, "--cluster.etcd.cert=/x", NULL) ==
	      DAEMON_CONFIG_ERROR);
	/* Good: the id defaults to the host name, the prefix gets its '/'. */
	CHECK(load(&cfg, dd, on, host, "--cluster.etcd.host=[::1]:2379",
		   "--cluster.leader-session-ttl=2s",
		   "--cluster.etcd-election-prefix=/x", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(cfg->cluster_enable && cfg->cluster_ttl == 2 &&
	      cfg->cluster_etcd_host.n == 2 && cfg->cluster_id &&
	      *cfg->cluster_id && !strcmp(cfg->cluster_prefix, "/x/"));
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, on, host, "--cluster.id=a", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(!strcmp(cfg->cluster_id, "a"));
	daemon_config_free(cfg);
}

/* Issue 22: values that used to be accepted and should not be. */
static void test_issue22(void)
{
	struct daemon_config *cfg;
	char dd[300], cf[300], line[2200];
	struct passwd *pw;

	snprintf(dd, sizeof(dd), "--datadir=%s/empty", tmpdir);
	/* Durations: bounded (1e306h is infinity in seconds). */
	CHECK(load(&cfg, dd, "--pinginterval=1e306h", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--pinginterval=8785h", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--pinginterval=1e300", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--pinginterval=8784h", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(cfg->pinginterval == 8784.0 * 3600);
	daemon_config_free(cfg);
	/* The signer's timers: 0 is refused. */
	CHECK(load(&cfg, dd, "--signer.requesttimeout=0", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--signer.pinginterval=0", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--signer.pinginterval=0ms", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--signer.requesttimeout=200ms",
		   "--signer.pinginterval=1s", NULL) == DAEMON_CONFIG_OK);
	daemon_config_free(cfg);
	/* A config line over 1,024 bytes is refused, not cut: the cut-off
	 * rest ("network=testnet") would have been a line of its own. */
	snprintf(cf, sizeof(cf), "--configfile=%s/long.conf", tmpdir);
	memset(line, 0, sizeof(line));
	memcpy(line, "tlsextradomain=", 15);
	memset(line + 15, 'a', 1023 - 15);
	strcat(line, "network=testnet\n");
	write_file("long.conf", line, 0600);
	CHECK(load(&cfg, dd, cf, NULL) == DAEMON_CONFIG_ERROR);
	/* Exactly 1,024 bytes (a comment) is fine, also as the last line
	 * without a newline. */
	memset(line, 0, sizeof(line));
	line[0] = '#';
	memset(line + 1, 'c', 1023);
	strcat(line, "\nnetwork=testnet\n#");
	memset(line + strlen(line), 'd', 1023);
	write_file("long.conf", line, 0600);
	CHECK(load(&cfg, dd, cf, NULL) == DAEMON_CONFIG_OK);
	CHECK(cfg && !strcmp(cfg->network, "testnet"));
	daemon_config_free(cfg);
	/* ~user is that user's home; with HOME unset, ~ is the passwd home
	 * (never a relative "~/.coldnode"). */
	pw = getpwuid(getuid());
	CHECK(pw != NULL);
	if (pw) {
		char want[600], opt[300];
		snprintf(opt, sizeof(opt), "--datadir=~%s/x", pw->pw_name);
		CHECK(load(&cfg, opt, NULL) == DAEMON_CONFIG_OK);
		snprintf(want, sizeof(want), "%s/x", pw->pw_dir);
		CHECK(cfg && !strcmp(cfg->datadir, want));
		daemon_config_free(cfg);
		char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
		unsetenv("HOME");
		CHECK(load(&cfg, "--tlscertpath=~/t.cert", dd, NULL) ==
		      DAEMON_CONFIG_OK);
		snprintf(want, sizeof(want), "%s/t.cert", pw->pw_dir);
		CHECK(cfg && !strcmp(cfg->tlscertpath, want));
		daemon_config_free(cfg);
		if (home)
			setenv("HOME", home, 1);
		free(home);
	}
	CHECK(load(&cfg, "--datadir=~no-such-user-here/x", NULL) ==
	      DAEMON_CONFIG_ERROR);
}

static bool refused_with(const char *want, ...);

/* Chain backend options (lnd's names). */
static void test_chain_options(void)
{
	struct daemon_config *cfg;
	char dd[300];

	snprintf(dd, sizeof(dd), "--datadir=%s/empty", tmpdir);
	CHECK(load(&cfg, dd, NULL) == DAEMON_CONFIG_OK);
	CHECK(!strcmp(cfg->bitcoin_node, "none"));
	CHECK(cfg->bitcoind_pollinterval == 10);
	CHECK(cfg->bitcoind_rpctimeout == 30);
	CHECK(cfg->bitcoind_maxfundingchecks == 20000);
	daemon_config_free(cfg);
	/* The funding-check queue bound (chain_config.max_checks). */
	CHECK(load(&cfg, dd, "--bitcoind.maxfundingchecks=1", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(cfg->bitcoind_maxfundingchecks == 1);
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, "--bitcoind.maxfundingchecks=1000000", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(cfg->bitcoind_maxfundingchecks == 1000000);
	daemon_config_free(cfg);
	CHECK(refused_with("--bitcoind.maxfundingchecks: 0 is not in "
			   "1..1000000", dd, "--bitcoind.maxfundingchecks=0",
			   NULL));
	CHECK(refused_with("--bitcoind.maxfundingchecks: 1000001 is not in "
			   "1..1000000", dd,
			   "--bitcoind.maxfundingchecks=1000001", NULL));
	CHECK(load(&cfg, dd, "--bitcoind.maxfundingchecks=many", NULL) ==
	      DAEMON_CONFIG_ERROR);
	/* The alias: UTF-8 (BOLT 7), 32 bytes at most. */
	CHECK(load(&cfg, dd, "--alias=\xe2\x9a\xa1 cold \xc3\xa9t\xc3\xa9",
		   NULL) == DAEMON_CONFIG_OK);
	daemon_config_free(cfg);
	CHECK(refused_with("--alias: not valid UTF-8", dd, "--alias=caf\xe9",
			   NULL));
	CHECK(refused_with("--alias: not valid UTF-8", dd,
			   "--alias=\xed\xa0\x80", NULL)); /* a surrogate */
	CHECK(refused_with("--alias: not valid UTF-8", dd,
			   "--alias=\xc0\xaf", NULL)); /* overlong "/" */
	CHECK(refused_with("--alias: longer than 32 bytes", dd,
			   "--alias=0123456789abcdef0123456789abcdef0", NULL));
	CHECK(load(&cfg, dd, "--bitcoin.node=bitcoind",
		   "--bitcoind.rpchost=127.0.0.1:18443",
		   "--bitcoind.rpcuser=u", "--bitcoind.rpcpass=p",
		   "--bitcoind.blockpollinginterval=500ms", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(!strcmp(cfg->bitcoind_rpchost, "127.0.0.1:18443") &&
	      cfg->bitcoind_pollinterval == 0.5);
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, "--bitcoin.node=bitcoind",
		   "--bitcoind.rpccookie=~/.bitcoin/.cookie", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(cfg->bitcoind_rpccookie[0] != '~'); /* expanded */
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, "--bitcoin.node=btcd", NULL) ==
	      DAEMON_CONFIG_ERROR);
	/* bitcoind without credentials: refused at start, not at first use */
	CHECK(load(&cfg, dd, "--bitcoin.node=bitcoind", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--bitcoin.node=bitcoind",
		   "--bitcoind.rpcuser=u", NULL) == DAEMON_CONFIG_ERROR);
	/* bitcoind's ZMQ endpoints: tcp://HOST:PORT only. */
	CHECK(load(&cfg, dd, "--bitcoind.zmqpubrawtx=tcp://127.0.0.1:28333",
		   "--bitcoind.zmqpubrawblock=tcp://[::1]:28332", NULL) ==
	      DAEMON_CONFIG_OK);
	CHECK(!strcmp(cfg->bitcoind_zmqpubrawtx, "tcp://127.0.0.1:28333") &&
	      !strcmp(cfg->bitcoind_zmqpubrawblock, "tcp://[::1]:28332"));
	daemon_config_free(cfg);
	CHECK(load(&cfg, dd, "--bitcoind.zmqpubrawtx=ipc:///tmp/x", NULL) ==
	      DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--bitcoind.zmqpubrawblock=tcp://127.0.0.1",
		   NULL) == DAEMON_CONFIG_ERROR);
	CHECK(load(&cfg, dd, "--bitcoind.zmqpubrawtx=127.0.0.1:28333", NULL) ==
	      DAEMON_CONFIG_ERROR);
}

/* --signerproxy.*: lnd owns the p2p identity, so options for coldnode's
 * own p2p are refused, each with a text that names it. */
static bool refused_with(const char *want, ...)
{
	struct daemon_config *cfg = NULL;
	char *argv[32], *text = NULL;
	size_t len = 0;
	int argc = 0;
	va_list ap;
	const char *a;
	FILE *old = sink;
	bool ok;

	argv[argc++] = "coldnode";
	va_start(ap, want);
	while ((a = va_arg(ap, const char *)) != NULL)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	sink = open_memstream(&text, &len);
	ok = daemon_config_load(&cfg, argc, argv, sink) == DAEMON_CONFIG_ERROR;
	fclose(sink);
	sink = old;
	ok = ok && text && strstr(text, want);
	if (!ok)
		fprintf(stderr, "want \"%s\", got \"%s\"\n", want,
			text ? text : "");
	free(text);
	daemon_config_free(cfg);
	return ok;
}

static void test_signerproxy_options(void)
{
	struct daemon_config *cfg;
	char dd[400];

	char sub[300];

	/* A data dir of its own: no coldnode.conf from the tests above. */
	snprintf(sub, sizeof(sub), "%s/spx", tmpdir);
	mkdir(sub, 0700);
	snprintf(dd, sizeof(dd), "--datadir=%s", sub);
	/* Off by default; on with its defaults. */
	CHECK(load(&cfg, dd, NULL) == DAEMON_CONFIG_OK);
	CHECK(cfg->signerproxy_listen == NULL);
	CHECK(cfg->signerproxy_holdtime == 3);
	daemon_config_free(cfg);
	if (load(&cfg, dd, "--signerproxy.listen=127.0.0.1:10021",
		 "--signerproxy.holdtime=2500ms", NULL) != DAEMON_CONFIG_OK) {
		CHECK(false);
		return;
	}
	CHECK(!strcmp(cfg->signerproxy_listen, "127.0.0.1:10021"));
	CHECK(cfg->signerproxy_holdtime == 2.5);
	daemon_config_free(cfg);
	/* --listen given but --nolisten too: nothing listens, fine. */
	CHECK(load(&cfg, dd, "--signerproxy.listen=127.0.0.1:10021",
		   "--listen=127.0.0.1:9735", "--nolisten", NULL) ==
	      DAEMON_CONFIG_OK);
	daemon_config_free(cfg);
	/* From the config file too. */
	write_file("spx.conf", "signerproxy.listen=127.0.0.1:10021\n"
		   "connect=02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@127.0.0.1:9735\n",
		   0600);
	char cf[340];
	snprintf(cf, sizeof(cf), "--configfile=%s/spx.conf", tmpdir);
	CHECK(refused_with("remove --connect", dd, cf, NULL));

	CHECK(refused_with("cannot be used with --signer=local", dd,
			   "--signerproxy.listen=127.0.0.1:10021",
			   "--signer=local", NULL));
	CHECK(refused_with("remove --listen", dd,
			   "--signerproxy.listen=127.0.0.1:10021",
			   "--listen=0.0.0.0:9735", NULL));
	CHECK(refused_with("remove --fullpeer", dd,
			   "--signerproxy.listen=127.0.0.1:10021",
			   "--fullpeer=02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			   NULL));
	CHECK(refused_with("remove --alias", dd,
			   "--signerproxy.listen=127.0.0.1:10021",
			   "--alias=mynode", NULL));
	CHECK(refused_with("is not host:port", dd,
			   "--signerproxy.listen=nowhere", NULL));
	CHECK(refused_with("must be positive", dd,
			   "--signerproxy.listen=127.0.0.1:10021",
			   "--signerproxy.holdtime=0", NULL));
	CHECK(refused_with("need a port each", dd,
			   "--signerproxy.listen=127.0.0.1:10019",
			   "--signerlisten=127.0.0.1:10019", NULL));
	CHECK(refused_with("--rpclisten are both", dd,
			   "--signerproxy.listen=127.0.0.1:10009", NULL));
}

int main(void)
{
	char cmd[300];

	cn_crypto_init();
	log_set_level(NULL, LOG_BROKEN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cn-test-config-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	sink = fopen("/dev/null", "w");
	test_defaults();
	test_file_and_flags();
	test_errors();
	test_chain_options();
	test_cluster_options();
	test_issue22();
	test_signerproxy_options();
	fclose(sink);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return check_exit();
}
