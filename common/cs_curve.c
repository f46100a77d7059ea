/*
 * cs_curve — see cs_curve.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cs_config.h"
#include "cs_curve.h"
#include "cs_log.h"

extern char **environ;

#define ENV_PUBLIC_PREFIX "CS_BUS_CURVE_PUBLIC_"

struct cs_curve {
    char dir[512];
    int from_env; /* keys from the environment; dir is a private folder of public certs */
    zcert_t *cert;
    zactor_t *auth;
};

/* A Z85 CURVE key: 40 characters that decode to 32 bytes. */
static int s_key_ok(const char *z85)
{
    uint8_t raw[32];
    return z85 && strlen(z85) == 40 && zmq_z85_decode(raw, z85) != NULL;
}

/* CS_BUS_CURVE_PUBLIC_<SERVICE>: the public key of a service, by name. */
static const char *s_env_public(const char *service)
{
    char name[128];
    size_t n = (size_t)snprintf(name, sizeof(name), ENV_PUBLIC_PREFIX);
    for (const char *c = service; *c && n < sizeof(name) - 1; c++)
        name[n++] = (char)toupper((unsigned char)*c);
    name[n] = 0;
    return getenv(name);
}

/* A certificate from Z85 keys (zcert_new_from_txt is a draft API). */
static zcert_t *s_cert_from_z85(const char *public_txt, const char *secret_txt)
{
    uint8_t pub[32], sec[32] = {0};
    if (!zmq_z85_decode(pub, public_txt) || (secret_txt && !zmq_z85_decode(sec, secret_txt)))
        return NULL;
    zcert_t *cert = zcert_new_from(pub, sec);
    memset(sec, 0, sizeof(sec));
    return cert;
}

static void s_remove_dir(const char *dir)
{
    zdir_t *d = zdir_new(dir, NULL);
    if (d) {
        zdir_remove(d, true);
        zdir_destroy(&d);
    }
}

/* Keys from the environment (a cluster's secrets): CS_BUS_CURVE_SECRET is
   this service's secret key, CS_BUS_CURVE_PUBLIC_<SERVICE> every service's
   public key. zauth admits clients from a folder of certificates, so the
   public keys are written to a private temporary folder; the secret key
   never touches the disk. */
static int s_load_env(cs_curve_t *self, const char *service, const char *secret)
{
    if (!s_key_ok(secret)) {
        cs_error("bus: CS_BUS_CURVE_SECRET is not a Z85 CURVE secret key (40 characters)");
        return -1;
    }
    char public_txt[41];
    if (zmq_curve_public(public_txt, secret) != 0) {
        cs_error("bus: CS_BUS_CURVE_SECRET: cannot derive its public key");
        return -1;
    }
    const char *mine = s_env_public(service);
    if (mine && strcmp(mine, public_txt) != 0) {
        cs_error("bus: CS_BUS_CURVE_PUBLIC_%s does not match CS_BUS_CURVE_SECRET", service);
        return -1;
    }
    self->cert = s_cert_from_z85(public_txt, secret);
    if (!self->cert)
        return -1;
    snprintf(self->dir, sizeof(self->dir), "%s/petrocs-curve-XXXXXX", cs_env("TMPDIR", "/tmp"));
    if (!mkdtemp(self->dir)) {
        cs_error("bus: cannot make a folder for the public keys under %s", self->dir);
        self->dir[0] = 0;
        return -1;
    }
    self->from_env = 1;
    char pubdir[600];
    snprintf(pubdir, sizeof(pubdir), "%s/public", self->dir);
    if (zsys_dir_create("%s", pubdir) < 0)
        return -1;
    int keys = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, ENV_PUBLIC_PREFIX, strlen(ENV_PUBLIC_PREFIX)) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        char name[64];
        size_t len = eq ? (size_t)(eq - *e) - strlen(ENV_PUBLIC_PREFIX) : 0;
        if (!eq || len == 0 || len >= sizeof(name))
            continue;
        for (size_t i = 0; i < len; i++)
            name[i] = (char)tolower((unsigned char)(*e)[strlen(ENV_PUBLIC_PREFIX) + i]);
        name[len] = 0;
        int name_ok = 1;
        for (size_t i = 0; i < len; i++)
            name_ok &= isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '-';
        if (!name_ok || !s_key_ok(eq + 1)) {
            cs_error("bus: %.*s is not a service name with a Z85 public key", (int)(eq - *e), *e);
            return -1;
        }
        zcert_t *cert = s_cert_from_z85(eq + 1, NULL);
        char path[700];
        snprintf(path, sizeof(path), "%s/%s.cert", pubdir, name);
        int rc = cert ? zcert_save_public(cert, path) : -1;
        zcert_destroy(&cert);
        if (rc != 0)
            return -1;
        keys++;
    }
    cs_info("bus: CURVE keys from the environment; %d services' public keys", keys);
    return 0;
}

cs_curve_t *cs_curve_new(const char *service, const char *dir)
{
    cs_curve_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    const char *secret = getenv("CS_BUS_CURVE_SECRET");
    if (secret && *secret) {
        if (s_load_env(self, service, secret) < 0)
            goto fail;
        goto authenticate;
    }
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
authenticate:;
    char public_dir[600];
    snprintf(public_dir, sizeof(public_dir), "%s/public", self->dir);
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
    if (self->from_env && self->dir[0])
        s_remove_dir(self->dir);
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
    if (self->from_env) {
        const char *key = s_env_public(peer_service);
        if (!s_key_ok(key)) {
            cs_error("bus: CURVE keys come from the environment but CS_BUS_CURVE_PUBLIC_ of"
                     " %s is missing or not a Z85 key",
                     peer_service);
            return -1;
        }
        zcert_apply(self->cert, sock);
        zsock_set_curve_serverkey(sock, key);
        return 0;
    }
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

int cs_curve_print_keys(FILE *out, const char *const *services, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        zcert_t *cert = zcert_new();
        if (!cert)
            return -1;
        fprintf(out, "# %s: give only the %s pods this secret\n", services[i], services[i]);
        fprintf(out, "CS_BUS_CURVE_SECRET=%s\n", zcert_secret_txt(cert));
        fprintf(out, "CS_BUS_CURVE_PUBLIC_");
        for (const char *c = services[i]; *c; c++)
            fputc(toupper((unsigned char)*c), out);
        fprintf(out, "=%s\n", zcert_public_txt(cert));
        zcert_destroy(&cert);
    }
    return 0;
}
