/*~ config: coldnode's options, from an lnd-style ini file and the command
 * line (flags win).  Internal to the daemon.
 *
 * To add an option: add a field to struct daemon_config and one line to
 * the option table in config.c (name, type, default, help, field).
 */
#ifndef COLDNODE_DAEMON_CONFIG_H
#define COLDNODE_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A repeatable string option (--listen, --connect, ...). */
struct daemon_strlist {
	char **v; /* owned, each string owned */
	size_t n;
};

enum daemon_signer {
	DAEMON_SIGNER_LOCAL,
	DAEMON_SIGNER_REMOTE,
};

struct daemon_config {
	char *datadir;    /* "~" expanded */
	char *configfile; /* NULL: <datadir>/coldnode.conf if it exists */
	struct daemon_strlist listen;
	bool nolisten;
	struct daemon_strlist rpclisten;
	char *signerlisten;
	/* Supervisor (remote signer) options. */
	char *signer_unix;         /* NULL: <datadir>/signer.sock; "none": off */
	char *signer_nodepubkey;   /* hex; NULL: pin the first signer's key */
	double signer_pinginterval;   /* seconds */
	double signer_pingtimeout;    /* seconds */
	double signer_requesttimeout; /* seconds */
	uint64_t signer_maxsigners;   /* 1..SV_MAX_SIGNERS: standby signers */
	uint64_t gossip_minsessions;  /* safe mode, local-key sessions; 0 off */
	double gossip_candidaterefresh; /* seconds; graph candidates again */
	uint64_t signer_maxinboundecdh; /* issue 22; 0: unlimited */
	char *rpcunix;     /* gRPC unix socket; NULL: <datadir>/rpc.sock,
			    * "none": off */
	char *tlscertpath; /* NULL: <datadir>/tls.cert */
	char *tlskeypath;  /* NULL: <datadir>/tls.key */
	struct daemon_strlist tlsextradomain; /* extra SANs for a new cert */
	struct daemon_strlist tlsextraip;     /* extra IP SANs */
	bool tlsautorefresh; /* new cert if it lacks a configured name */
	char *network;
	char *debuglevel;
	struct daemon_strlist connect;
	struct daemon_strlist fullpeer;
	char *signer;
	double handshaketimeout; /* seconds */
	double pinginterval;     /* seconds */
	uint64_t maxpeers;       /* 0: unlimited */
	uint64_t maxpendinghandshakes; /* 0: unlimited */
	uint64_t peer_maxbuffer; /* bytes queued per peer */
	uint64_t rpc_maxstreams; /* gRPC streams per connection */
	uint64_t gossip_maxunverified; /* 0: unlimited */
	double gossip_historicalsyncinterval; /* seconds, 0: none periodic */
	/* Connection budgets (issue #13). */
	uint64_t rpc_maxpreauth, rpc_maxpreauthpersource;
	double rpc_preauthtimeout;
	uint64_t signer_maxpreauth, signer_maxpreauthpersource;
	double signer_preauthtimeout;
	uint64_t peer_maxpreauthpersource;
	double peer_actonetimeout;
	/* Chain backend (docs/chain.md), lnd's option names. */
	char *bitcoin_node;          /* "none" or "bitcoind" */
	char *bitcoind_rpchost;      /* host[:port]; port by --network */
	char *bitcoind_rpcuser;
	char *bitcoind_rpcpass;
	char *bitcoind_rpccookie;    /* bitcoind's .cookie file */
	double bitcoind_pollinterval; /* seconds */
	char *bitcoind_zmqpubrawtx;   /* NULL: none */
	char *bitcoind_zmqpubrawblock;
	double bitcoind_rpctimeout;   /* seconds, one request */
	uint64_t bitcoind_maxfundingchecks; /* chain_config.max_checks */
	/* Watch-only wallet (docs/wallet.md). */
	char *wallet_accounts;       /* accounts JSON file, NULL: none */
	uint64_t wallet_birthday;    /* 0: from the tip */
	uint64_t wallet_gaplimit;    /* per branch */
	char *alias;
	char *color;
	/* Operations (issue 12): metrics, log files. */
	bool prometheus_enable;
	char *prometheus_listen; /* NULL: 127.0.0.1:8989 if enabled */
	char *logdir;            /* NULL: <datadir>/logs; "none": stderr only */
	uint64_t maxlogfiles;    /* rotated files kept; 0: never rotate */
	uint64_t maxlogfilesize; /* MB before rotation */
	/* Leader election through etcd (docs/cluster.md), lnd's names. */
	bool cluster_enable;
	char *cluster_id;          /* NULL: the host name */
	char *cluster_prefix;      /* ends with '/' after parsing */
	double cluster_ttl;        /* seconds, >= 2 */
	struct daemon_strlist cluster_etcd_host;
	char *cluster_etcd_user, *cluster_etcd_pass;
	char *cluster_etcd_cacert, *cluster_etcd_cert, *cluster_etcd_key;
	/* Signer proxy for a watch-only lnd (docs/signerproxy.md). */
	char *signerproxy_listen;     /* NULL: off */
	double signerproxy_holdtime;  /* seconds a call waits for a signer */
	uint64_t signerproxy_maxstreams; /* calls at once per connection */
	bool help;

	/* Derived after parsing (not options). */
	uint8_t chain_hash[32];
	enum daemon_signer signer_kind;
	uint8_t (*fullpeer_ids)[33]; /* owned, fullpeer.n entries */
	uint8_t rgb[3];
};

enum daemon_config_result {
	DAEMON_CONFIG_OK,
	DAEMON_CONFIG_HELP,  /* --help printed: exit 0 */
	DAEMON_CONFIG_ERROR, /* message printed: exit 2 */
};

/**
 * daemon_config_load - defaults, then the config file, then @argv.
 * @out: set to a new config on DAEMON_CONFIG_OK (free with
 *   daemon_config_free), NULL otherwise.
 * @errf: where error text goes (borrowed); --help goes to stdout.
 */
enum daemon_config_result daemon_config_load(struct daemon_config **out,
					     int argc, char *const *argv,
					     FILE *errf);
void daemon_config_free(struct daemon_config *cfg);

/* Print every option with its default and help text. */
void daemon_config_usage(FILE *f);

/* "mainnet" etc. to the BOLT 0 chain_hash (genesis hash in wire order). */
bool daemon_network_chain_hash(uint8_t out[32], const char *network);

#endif /* COLDNODE_DAEMON_CONFIG_H */
