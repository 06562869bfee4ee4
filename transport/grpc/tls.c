/* SPDX-License-Identifier: Apache-2.0 */
/* OpenSSL through memory BIOs: rbio holds what the socket read, wbio what must be written to it.
 * OpenSSL's errors are turned into text here only (its reason, and for a certificate the
 * verification result), for chan.c to report. */
#define KWG_LOG_MODULE "grpc"
#include "transport/grpc/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/compat.h"

struct kwg_grpc_tls_ctx {
	SSL_CTX *ssl_ctx;
	bool has_cert;
};

struct kwg_grpc_tls {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	bool has_cert;    /* a client certificate is configured */
	bool cert_asked;  /* the server asked for one and none is configured */
};

/* HTTP/2 over TLS is negotiated by ALPN (RFC 7540 §3.3); gRPC speaks nothing else. */
static const unsigned char alpn_h2[] = {2, 'h', '2'};

/* OpenSSL's first queued error as text, the queue emptied. */
static void ssl_reason(char *out, size_t size)
{
	unsigned long e = ERR_get_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (reason && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER)
		(void)snprintf(out, size, "%s (does the controller speak TLS on this port?)",
		               reason);
	else if (reason && ERR_GET_LIB(e) == ERR_LIB_SSL &&
	         ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
		(void)snprintf(out, size, "%s (the controller does not offer HTTP/2, ALPN h2)",
		               reason);
	else if (reason)
		(void)snprintf(out, size, "%s", reason);
	else if (e)
		ERR_error_string_n(e, out, size);
	else
		(void)snprintf(out, size, "unknown TLS error");
	ERR_clear_error();
}

/* OpenSSL calls it only when the server asks for a client certificate and none is set: noted,
 * for the server may then just close the connection without an alert (gRPC's core does). */
static int on_client_cert(SSL *ssl, X509 **ret_x509, EVP_PKEY **ret_pkey)
{
	struct kwg_grpc_tls *tls = SSL_get_app_data(ssl);

	(void)ret_x509;
	(void)ret_pkey;
	if (tls)
		tls->cert_asked = true;
	return 0; /* none: the handshake goes on without one */
}

int kwg_grpc_tls_ctx_new(const struct kwg_grpc_tls_opts *opts, struct kwg_grpc_tls_ctx **ret,
                         struct kwg_err *err)
{
	const struct {
		const char *key, *path;
	} files[] = {
	    {"controller_ca_file", opts->ca_file},
	    {"controller_cert_file", opts->cert_file},
	    {"controller_key_file", opts->key_file},
	};
	struct kwg_grpc_tls_ctx *ctx;
	char why[256];
	int r = 0;

	/* Each file readable (with errno's reason, which OpenSSL's load errors do not always
	 * give), and the certificate with its key. */
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		cleanup_fclose FILE *f = NULL;
		if (!files[i].path)
			continue;
		f = fopen(files[i].path, "re");
		if (!f)
			return kwg_err_set(err, -EINVAL, "%s: cannot read '%.200s': %s",
			                   files[i].key, files[i].path, strerror(errno));
	}
	if (!opts->cert_file != !opts->key_file)
		return kwg_err_set(err, -EINVAL, "%s: set without %s",
		                   opts->cert_file ? "controller_cert_file" : "controller_key_file",
		                   opts->cert_file ? "controller_key_file"
		                                   : "controller_cert_file");
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ERR_clear_error();
	ctx->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx->ssl_ctx) {
		free(ctx);
		return -ENOMEM;
	}
	SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_client_cert_cb(ctx->ssl_ctx, on_client_cert);
	if (SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_alpn_protos(ctx->ssl_ctx, alpn_h2, sizeof(alpn_h2)) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	if (opts->ca_file) {
		if (SSL_CTX_load_verify_locations(ctx->ssl_ctx, opts->ca_file, NULL) != 1) {
			ssl_reason(why, sizeof(why));
			r = kwg_err_set(err, -EINVAL, "controller_ca_file: cannot load '%s': %s",
			                opts->ca_file, why);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx->ssl_ctx) != 1) {
		ssl_reason(why, sizeof(why));
		r = kwg_err_set(err, -EINVAL, "the system's CA store cannot be loaded: %s", why);
		goto fail;
	}
	if (opts->cert_file) {
		if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, opts->cert_file) != 1) {
			ssl_reason(why, sizeof(why));
			r = kwg_err_set(err, -EINVAL, "controller_cert_file: cannot load '%s': %s",
			                opts->cert_file, why);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, opts->key_file, SSL_FILETYPE_PEM) !=
		    1) {
			ssl_reason(why, sizeof(why));
			r = kwg_err_set(err, -EINVAL,
			                "controller_key_file: cannot load '%s' as the key of "
			                "controller_cert_file '%s': %s",
			                opts->key_file, opts->cert_file, why);
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
			ssl_reason(why, sizeof(why));
			r = kwg_err_set(err, -EINVAL,
			                "controller_key_file: '%s' is not the key of "
			                "controller_cert_file '%s': %s",
			                opts->key_file, opts->cert_file, why);
			goto fail;
		}
		ctx->has_cert = true;
	}
	*ret = ctx;
	return 0;
fail:
	ERR_clear_error();
	kwg_grpc_tls_ctx_free(ctx);
	return r;
}

struct kwg_grpc_tls_ctx *kwg_grpc_tls_ctx_free(struct kwg_grpc_tls_ctx *ctx)
{
	if (!ctx)
		return NULL;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx);
	return NULL;
}

int kwg_grpc_tls_new(struct kwg_grpc_tls_ctx *ctx, const char *name, struct kwg_grpc_tls **ret)
{
	struct kwg_grpc_tls *tls = calloc(1, sizeof(*tls));
	unsigned char addr[16];
	bool is_ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
	int r = -ENOMEM;

	if (!tls)
		return -ENOMEM;
	ERR_clear_error();
	tls->ssl = SSL_new(ctx->ssl_ctx);
	tls->rbio = BIO_new(BIO_s_mem());
	tls->wbio = BIO_new(BIO_s_mem());
	if (!tls->ssl || !tls->rbio || !tls->wbio) {
		BIO_free(tls->rbio);
		BIO_free(tls->wbio);
		tls->rbio = tls->wbio = NULL;
		goto fail;
	}
	/* An empty rbio means "wait for more", not the end of the stream. */
	BIO_set_mem_eof_return(tls->rbio, -1);
	SSL_set_bio(tls->ssl, tls->rbio, tls->wbio);
	SSL_set_connect_state(tls->ssl);
	SSL_set_app_data(tls->ssl, tls);
	tls->has_cert = ctx->has_cert;
	r = -EINVAL;
	if (is_ip) {
		/* RFC 6066: no SNI for an address; the certificate must name it (iPAddress SAN). */
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls->ssl), name) != 1)
			goto fail;
	} else {
		X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(tls->ssl),
		                                X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set_tlsext_host_name(tls->ssl, name) != 1 ||
		    X509_VERIFY_PARAM_set1_host(SSL_get0_param(tls->ssl), name, 0) != 1)
			goto fail;
	}
	*ret = tls;
	return 0;
fail:
	ERR_clear_error();
	kwg_grpc_tls_free(tls);
	return r;
}

struct kwg_grpc_tls *kwg_grpc_tls_free(struct kwg_grpc_tls *tls)
{
	if (!tls)
		return NULL;
	SSL_free(tls->ssl); /* and both BIOs */
	free(tls);
	return NULL;
}

int kwg_grpc_tls_feed(struct kwg_grpc_tls *tls, const uint8_t *data, size_t len)
{
	while (len > 0) {
		int chunk = len > INT32_MAX ? INT32_MAX : (int)len;
		int n = BIO_write(tls->rbio, data, chunk);
		if (n <= 0)
			return -ENOMEM;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The failure of an SSL call that returned rc: 0 when it only waits for bytes. */
static int ssl_failure(struct kwg_grpc_tls *tls, int rc, const char *what, struct kwg_err *err)
{
	int e = SSL_get_error(tls->ssl, rc);
	long verify;
	char why[256];

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		ERR_clear_error();
		return kwg_err_set(err, -EPIPE, "TLS: the controller closed the session");
	}
	ssl_reason(why, sizeof(why));
	verify = SSL_get_verify_result(tls->ssl);
	if (verify != X509_V_OK)
		return kwg_err_set(err, -EPROTO, "TLS %s: %s: %s", what, why,
		                   X509_verify_cert_error_string(verify));
	return kwg_err_set(err, -EPROTO, "TLS %s: %s", what, why);
}

int kwg_grpc_tls_handshake(struct kwg_grpc_tls *tls, struct kwg_err *err)
{
	const unsigned char *proto = NULL;
	unsigned int n = 0;
	int rc;

	ERR_clear_error();
	rc = SSL_do_handshake(tls->ssl);
	if (rc != 1)
		return ssl_failure(tls, rc, "handshake", err);
	SSL_get0_alpn_selected(tls->ssl, &proto, &n);
	if (n != 2 || memcmp(proto, "h2", 2) != 0)
		return kwg_err_set(
		    err, -EPROTO,
		    "TLS handshake: the controller did not select HTTP/2 (ALPN h2%s%.*s)",
		    n ? "; it chose " : ", nothing chosen", (int)n, n ? (const char *)proto : "");
	return 1;
}

int kwg_grpc_tls_read(struct kwg_grpc_tls *tls, uint8_t *buf, size_t size, struct kwg_err *err)
{
	int chunk = size > INT32_MAX ? INT32_MAX : (int)size;
	int rc;

	ERR_clear_error();
	rc = SSL_read(tls->ssl, buf, chunk);
	if (rc > 0)
		return rc;
	return ssl_failure(tls, rc, "read", err);
}

int kwg_grpc_tls_write(struct kwg_grpc_tls *tls, const uint8_t *data, size_t len,
                       struct kwg_err *err)
{
	while (len > 0) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		int rc;
		ERR_clear_error();
		rc = SSL_write(tls->ssl, data, chunk);
		if (rc <= 0) {
			rc = ssl_failure(tls, rc, "write", err);
			return rc < 0 ? rc : kwg_err_set(err, -EPROTO, "TLS write: not accepted");
		}
		data += rc;
		len -= (size_t)rc;
	}
	return 0;
}

int kwg_grpc_tls_take(struct kwg_grpc_tls *tls, struct kwg_buf *out)
{
	char chunk[16384];
	int n;

	while ((n = BIO_read(tls->wbio, chunk, sizeof(chunk))) > 0) {
		int r = kwg_buf_append(out, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
	return 0;
}

const char *kwg_grpc_tls_close_hint(const struct kwg_grpc_tls *tls)
{
	if (tls->cert_asked)
		return "; it asked for a client certificate and none is configured "
		       "(controller_cert_file, controller_key_file)";
	if (tls->has_cert)
		return " (did it refuse kwg's client certificate?)";
	return "";
}

const char *kwg_grpc_tls_version(const struct kwg_grpc_tls *tls)
{
	return SSL_get_version(tls->ssl);
}
