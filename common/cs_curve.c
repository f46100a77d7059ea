/*
 * cs_curve — see cs_curve.h.
 */
#include <stdio.h>
#include <sys/stat.h>
#include "cs_curve.h"
#include "cs_log.h"

struct cs_curve {
    char dir[512];
    zcert_t *cert;
    zactor_t *auth;
};

cs_curve_t *cs_curve_new(const char *service, const char *dir)
{
    cs_curve_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    snprintf(self->dir, sizeof(self->dir), "%s", dir);
    char path[700];
    /* zcert_load reads "<path>_secret" when it exists: the full key pair */
    snprintf(path, sizeof(path), "%s/secret/%s.cert", dir, service);
    self->cert = zcert_load(path);
    if (!self->cert || !zcert_secret_txt(self->cert) ||
        strcmp(zcert_secret_txt(self->cert), "0000000000000000000000000000000000000000") == 0) {
        cs_error("bus: CURVE is on but %s_secret is missing or has no secret key", path);
        goto fail;
    }
    char public_dir[600];
    snprintf(public_dir, sizeof(public_dir), "%s/public", dir);
    struct stat st;
    if (stat(public_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        cs_error("bus: CURVE is on but %s is not a directory", public_dir);
        goto fail;
    }
    /* The authenticator must run before any CURVE server socket binds. */
    self->auth = zactor_new(zauth, NULL);
    if (!self->auth)
        goto fail;
    zstr_sendx(self->auth, "CURVE", public_dir, NULL);
    zsock_wait(self->auth);
    cs_info("bus: CURVE on; clients admitted from %s", public_dir);
    return self;
fail:
    cs_curve_destroy(&self);
    return NULL;
}

void cs_curve_destroy(cs_curve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cs_curve_t *self = *self_p;
    zactor_destroy(&self->auth);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

void cs_curve_server(cs_curve_t *self, zsock_t *sock)
{
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
}

int cs_curve_client(cs_curve_t *self, zsock_t *sock, const char *peer_service)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/public/%s.cert", self->dir, peer_service);
    zcert_t *peer = zcert_load(path);
    if (!peer) {
        cs_error("bus: CURVE is on but there is no certificate %s", path);
        return -1;
    }
    zcert_apply(self->cert, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(peer));
    zcert_destroy(&peer);
    return 0;
}

int cs_curve_generate(const char *dir, const char *const *services, size_t n)
{
    char pub[600], sec[600];
    snprintf(pub, sizeof(pub), "%s/public", dir);
    snprintf(sec, sizeof(sec), "%s/secret", dir);
    if (zsys_dir_create("%s", pub) < 0 || zsys_dir_create("%s", sec) < 0)
        return -1;
    chmod(sec, 0700);
    for (size_t i = 0; i < n; i++) {
        zcert_t *cert = zcert_new();
        if (!cert)
            return -1;
        zcert_set_meta(cert, "service", "%s", services[i]);
        char p1[700], p2[720];
        snprintf(p1, sizeof(p1), "%s/%s.cert", pub, services[i]);
        snprintf(p2, sizeof(p2), "%s/%s.cert_secret", sec, services[i]);
        int rc = zcert_save_public(cert, p1) | zcert_save_secret(cert, p2);
        zcert_destroy(&cert);
        if (rc != 0)
            return -1;
        chmod(p2, 0600);
    }
    return 0;
}
