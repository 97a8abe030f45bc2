/* dtls.c - who a coaps device is, and which endpoint name it may take. PSK identities are
 * looked up in a table of our own (config entries and the fleet key file), so that the key of
 * a handshake is found in O(1) and the identity is known per session afterwards. libcoap 4.3.1
 * sets its own cipher list ("TLSv1.2", which leaves out TLS_PSK_WITH_AES_128_CBC_SHA256); its
 * only hook to change that runs for certificate setups, so a certificate is always installed,
 * the gateway's own or a throw-away self-signed one, and the hook sets the list LwM2M devices
 * need, at security level 0 for the 64-bit CCM_8 tags. */
#include "dtls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <uthash.h>

#include "gw.h"

/* LwM2M 1.1 section 5.2.8 and the suites constrained clients offer, strongest first. */
#define CIPHERS                                                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-CCM:ECDHE-ECDSA-AES128-CCM8:"                \
    "ECDHE-ECDSA-AES128-SHA256:PSK-AES128-GCM-SHA256:PSK-AES128-CCM:PSK-AES128-CCM8:"              \
    "PSK-AES128-CBC-SHA256"

struct psk {
    char *identity;
    char *endpoint;
    uint8_t *key;
    size_t key_len;
    coap_bin_const_t bin; /* the key as libcoap wants it */
    UT_hash_handle hh;
};

struct dtls {
    struct psk *by_identity;
    bool allow_nosec;
    uint8_t *cert_pem, *key_pem, *ca_pem; /* PEM buffers handed to libcoap */
    size_t cert_len, key_len, ca_len;
    struct cert_endpoint *cert_endpoints;
    size_t n_cert_endpoints;
};

static void psk_free(struct psk *p)
{
    if (!p)
        return;
    if (p->key)
        OPENSSL_cleanse(p->key, p->key_len);
    free(p->key);
    free(p->identity);
    free(p->endpoint);
    free(p);
}

static int add_psk(struct dtls *d, const char *identity, const char *endpoint, const uint8_t *key,
                   size_t key_len)
{
    struct psk *p = NULL;
    HASH_FIND_STR(d->by_identity, identity, p);
    if (p)
        return -GW_ERR_EXISTS;
    p = calloc(1, sizeof(*p));
    if (!p || !(p->identity = strdup(identity)) || !(p->endpoint = strdup(endpoint)) ||
        !(p->key = malloc(key_len ? key_len : 1))) {
        psk_free(p);
        return -GW_ERR_NOMEM;
    }
    memcpy(p->key, key, key_len);
    p->key_len = key_len;
    p->bin.s = p->key;
    p->bin.length = key_len;
    HASH_ADD_KEYPTR(hh, d->by_identity, p->identity, strlen(p->identity), p);
    return GW_OK;
}

/* Reads the fleet key file: lines "endpoint identity hex-key", '#' comments, blank lines. */
static int load_psk_file(struct dtls *d, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_error("startup-failed reason=\"%s: cannot be read\"", path);
        return -GW_ERR_IO;
    }
    char line[1024], ep[GW_EP_MAX + 2], id[256], hex[1024];
    uint8_t key[512];
    int rc = GW_OK, n = 0, loaded = 0;
    while (rc == GW_OK && fgets(line, sizeof(line), f)) {
        n++;
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (sscanf(p, "%129s %255s %1023s", ep, id, hex) != 3 || strlen(ep) > GW_EP_MAX) {
            log_error("startup-failed reason=\"%s:%d: expected 'endpoint identity hex-key'\"", path,
                      n);
            rc = -GW_ERR_INVALID;
            break;
        }
        int kl = gw_hex_decode(hex, strlen(hex), key, sizeof(key));
        bool ok = kl > 0;
        if (!ok) {
            /* The key itself is never repeated in a message. */
            log_error("startup-failed reason=\"%s:%d: the key of '%s' is not an even number of "
                      "hex digits (at most %zu bytes)\"",
                      path, n, ep, sizeof(key));
            rc = -GW_ERR_INVALID;
            break;
        }
        rc = add_psk(d, id, ep, key, (size_t)kl);
        if (rc == -GW_ERR_EXISTS)
            log_error("startup-failed reason=\"%s:%d: identity '%s' is listed twice\"", path, n,
                      id);
        loaded += rc == GW_OK;
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(hex, sizeof(hex));
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (rc == GW_OK)
        log_info("psk-file-loaded path=%s identities=%d", path, loaded);
    return rc;
}

/* ---- libcoap callbacks ---- */

static const coap_bin_const_t *on_identity(coap_bin_const_t *identity, coap_session_t *session,
                                           void *arg)
{
    struct dtls *d = arg;
    (void)session;
    char id[256];
    if (!identity || identity->length >= sizeof(id))
        return NULL;
    memcpy(id, identity->s, identity->length);
    id[identity->length] = '\0';
    struct psk *p = NULL;
    HASH_FIND_STR(d->by_identity, id, p);
    if (!p) {
        log_warn("dtls-refused identity=\"%s\" reason=\"unknown PSK identity\"", id);
        return NULL;
    }
    return &p->bin;
}

static int on_cn(const char *cn, const uint8_t *der, size_t der_len, coap_session_t *session,
                 unsigned depth, int validated, void *arg)
{
    (void)der;
    (void)der_len;
    (void)session;
    (void)arg;
    if (!validated)
        log_warn("dtls-refused cn=\"%s\" depth=%u reason=\"certificate not validated\"",
                 cn ? cn : "", depth);
    return validated;
}

static int on_tls_setup(void *tls, coap_dtls_pki_t *setup)
{
    (void)setup;
    SSL *ssl = tls;
    SSL_set_security_level(ssl, 0); /* CCM_8's 64-bit tag counts as "low" in OpenSSL 3 */
    return SSL_set_cipher_list(ssl, CIPHERS) == 1;
}

/* ---- a throw-away certificate, when the gateway has none of its own ---- */

static int to_pem(BIO *bio, uint8_t **out, size_t *len)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || !(*out = malloc((size_t)n + 1)))
        return -GW_ERR_NOMEM;
    memcpy(*out, data, (size_t)n);
    (*out)[n] = '\0';
    *len = (size_t)n + 1; /* libcoap's PEM buffers count the terminating NUL */
    return GW_OK;
}

static int make_self_signed(struct dtls *d)
{
    int rc = -GW_ERR_NOMEM;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    if (!key || !x || !cb || !kb)
        goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"lwm2m-mqtt-gateway", -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (!X509_sign(x, key, EVP_sha256()) || !PEM_write_bio_X509(cb, x) ||
        !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL))
        goto out;
    if (to_pem(cb, &d->cert_pem, &d->cert_len) < 0 || to_pem(kb, &d->key_pem, &d->key_len) < 0)
        goto out;
    rc = GW_OK;
out:
    BIO_free(cb);
    BIO_free(kb);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -GW_ERR_IO;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 4096 + 1 > cap) {
            uint8_t *b = realloc(buf, cap = cap ? cap * 2 : 8192);
            if (!b) {
                free(buf);
                fclose(f);
                return -GW_ERR_NOMEM;
            }
            buf = b;
        }
        r = fread(buf + n, 1, 4096, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n + 1;
    return GW_OK;
}

/* ---- the module ---- */

struct dtls *dtls_new(coap_context_t *const *ctx, size_t n_ctx, const struct server_security *sec)
{
    struct dtls *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->allow_nosec = sec->allow_nosec;
    if (sec->n_cert_endpoints) {
        d->cert_endpoints = calloc(sec->n_cert_endpoints, sizeof(*d->cert_endpoints));
        if (!d->cert_endpoints)
            goto out_free;
        d->n_cert_endpoints = sec->n_cert_endpoints;
        for (size_t i = 0; i < sec->n_cert_endpoints; i++)
            if (!(d->cert_endpoints[i].cn = strdup(sec->cert_endpoints[i].cn)) ||
                !(d->cert_endpoints[i].endpoint = strdup(sec->cert_endpoints[i].endpoint)))
                goto out_free;
    }
    if (n_ctx == 0)
        return d; /* no coaps listener: only the NoSec rule applies */
    if (sec->n_rpk) {
        log_error("startup-failed reason=\"lwm2m.security.rpk: raw public keys are not "
                  "available with libcoap's OpenSSL backend (libcoap 4.3.1, OpenSSL 3.0)\"");
        goto out_free;
    }
    for (size_t i = 0; i < sec->n_psk; i++) {
        const struct psk_entry *p = &sec->psk[i];
        if (add_psk(d, p->identity, p->endpoint, p->key, p->key_len) < 0)
            goto out_free;
    }
    if (sec->psk_file && load_psk_file(d, sec->psk_file) < 0)
        goto out_free;

    if (sec->cert_file) {
        if (read_file(sec->cert_file, &d->cert_pem, &d->cert_len) < 0 ||
            read_file(sec->key_file, &d->key_pem, &d->key_len) < 0) {
            log_error("startup-failed reason=\"lwm2m.security.cert_file or key_file cannot be "
                      "read\"");
            goto out_free;
        }
    } else if (make_self_signed(d) < 0) {
        log_error("startup-failed reason=\"cannot make a certificate for the DTLS listener\"");
        goto out_free;
    }
    if (sec->ca_file && read_file(sec->ca_file, &d->ca_pem, &d->ca_len) < 0) {
        log_error("startup-failed reason=\"lwm2m.security.ca_file cannot be read\"");
        goto out_free;
    }

    coap_dtls_pki_t pki = {0};
    pki.version = COAP_DTLS_PKI_SETUP_VERSION;
    pki.verify_peer_cert = d->ca_pem ? 1 : 0;
    pki.check_common_ca = d->ca_pem ? 1 : 0;
    pki.cert_chain_validation = 1;
    pki.cert_chain_verify_depth = 3;
    pki.validate_cn_call_back = on_cn;
    pki.cn_call_back_arg = d;
    pki.additional_tls_setup_call_back = on_tls_setup;
    pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
    pki.pki_key.key.pem_buf.public_cert = d->cert_pem;
    pki.pki_key.key.pem_buf.public_cert_len = d->cert_len;
    pki.pki_key.key.pem_buf.private_key = d->key_pem;
    pki.pki_key.key.pem_buf.private_key_len = d->key_len;
    pki.pki_key.key.pem_buf.ca_cert = d->ca_pem;
    pki.pki_key.key.pem_buf.ca_cert_len = d->ca_pem ? d->ca_len : 0;
    for (size_t i = 0; i < n_ctx; i++) {
        if (!coap_context_set_pki(ctx[i], &pki)) {
            log_error("startup-failed reason=\"the DTLS certificate or key does not load\"");
            goto out_free;
        }
    }
    /* A key must be set for libcoap to recognise PSK offers; the identity callback picks the
     * real one, and an unknown identity is refused. */
    static const uint8_t unused_key[] = {0};
    coap_dtls_spsk_t psk = {0};
    psk.version = COAP_DTLS_SPSK_SETUP_VERSION;
    psk.validate_id_call_back = on_identity;
    psk.id_call_back_arg = d;
    psk.psk_info.key.s = unused_key;
    psk.psk_info.key.length = sizeof(unused_key);
    for (size_t i = 0; i < n_ctx; i++) {
        if (!coap_context_set_psk2(ctx[i], &psk)) {
            log_error("startup-failed reason=\"the DTLS PSK setup failed\"");
            goto out_free;
        }
    }
    log_info("dtls-ready psk_identities=%u certificate=%s ca=%s", HASH_COUNT(d->by_identity),
             sec->cert_file ? sec->cert_file : "self-signed", sec->ca_file ? sec->ca_file : "none");
    return d;

out_free:
    dtls_free(d);
    return NULL;
}

void dtls_free(struct dtls *d)
{
    if (!d)
        return;
    struct psk *p, *tmp;
    HASH_ITER(hh, d->by_identity, p, tmp)
    {
        HASH_DEL(d->by_identity, p);
        psk_free(p);
    }
    if (d->key_pem)
        OPENSSL_cleanse(d->key_pem, d->key_len);
    free(d->key_pem);
    free(d->cert_pem);
    free(d->ca_pem);
    for (size_t i = 0; i < d->n_cert_endpoints; i++) {
        free(d->cert_endpoints[i].cn);
        free(d->cert_endpoints[i].endpoint);
    }
    free(d->cert_endpoints);
    free(d);
}

/* The subject CN of the peer's certificate, into `out`. */
static bool peer_cn(coap_session_t *session, char *out, size_t cap)
{
    coap_tls_library_t lib;
    SSL *ssl = coap_session_get_tls(session, &lib);
    if (!ssl || lib != COAP_TLS_LIBRARY_OPENSSL)
        return false;
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return false;
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)cap);
    X509_free(cert);
    return n > 0;
}

int dtls_check(const struct dtls *d, coap_session_t *session, const char *ep, char *err,
               size_t errlen)
{
    coap_proto_t proto = coap_session_get_proto(session);
    if (proto == COAP_PROTO_UDP || proto == COAP_PROTO_TCP) {
        if (d->allow_nosec)
            return GW_OK;
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "NoSec is not allowed: register over coaps with the credentials of '%s'",
                       ep);
    }
    const coap_bin_const_t *id = coap_session_get_psk_identity(session);
    if (id && id->length > 0) {
        char text[256];
        size_t n = id->length < sizeof(text) - 1 ? id->length : sizeof(text) - 1;
        memcpy(text, id->s, n);
        text[n] = '\0';
        struct psk *p = NULL;
        HASH_FIND_STR(d->by_identity, text, p);
        if (p && strcmp(p->endpoint, ep) == 0)
            return GW_OK;
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "the PSK identity '%s' does not belong to endpoint '%s'", text, ep);
    }
    char cn[256];
    if (peer_cn(session, cn, sizeof(cn))) {
        const char *allowed = cn;
        for (size_t i = 0; i < d->n_cert_endpoints; i++)
            if (strcmp(d->cert_endpoints[i].cn, cn) == 0)
                allowed = d->cert_endpoints[i].endpoint;
        if (strcmp(allowed, ep) == 0)
            return GW_OK;
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "the certificate of '%s' does not belong to endpoint '%s'", cn, ep);
    }
    return gw_fail(-GW_ERR_INVALID, err, errlen,
                   "no credential of the DTLS session belongs to endpoint '%s'", ep);
}
