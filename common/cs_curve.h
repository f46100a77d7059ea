/*
 * cs_curve — CURVE encryption and authentication of the bus (CZMQ zcert +
 * zauth), switched on by CS_BUS_CURVE=on.
 *
 * Every service has one certificate. CS_BUS_CERT_DIR holds:
 *   public/<service>.cert          the public certificate of every service:
 *                                  the keys clients use to reach a publisher,
 *                                  and the list of clients a publisher admits
 *   secret/<service>.cert_secret   this service's own certificate (in a
 *                                  cluster each pod mounts only its own)
 * A publisher's PUB and replay sockets are CURVE servers whose zauth actor
 * admits only clients whose public certificate is in public/; a consumer's
 * SUB and DEALER are CURVE clients that know each publisher's public key.
 * `csctl certs DIR [service…]` makes the certificates.
 *
 * Or from the environment (a cluster's secrets), which takes precedence:
 *   CS_BUS_CURVE_SECRET             this service's secret key (Z85)
 *   CS_BUS_CURVE_PUBLIC_<SERVICE>   every service's public key (Z85); the
 *                                   publisher admits exactly these clients
 * `csctl keys [service…]` prints such a set.
 */
#ifndef CS_CURVE_H
#define CS_CURVE_H
#include <czmq.h>

typedef struct cs_curve cs_curve_t;

/* Load the service's certificate and start the authenticator. NULL with a
   logged reason when a file is missing or unreadable. */
cs_curve_t *cs_curve_new(const char *service, const char *dir);
void cs_curve_destroy(cs_curve_t **self_p);
/* Make sock a CURVE server with our certificate (before bind). */
void cs_curve_server(cs_curve_t *self, zsock_t *sock);
/* Make sock a CURVE client of peer_service (before connect). 0 or -1. */
int cs_curve_client(cs_curve_t *self, zsock_t *sock, const char *peer_service);
/* Print a new key pair per service as environment assignments:
   CS_BUS_CURVE_PUBLIC_<S>=… for all, and each one's CS_BUS_CURVE_SECRET. */
int cs_curve_print_keys(FILE *out, const char *const *services, size_t n);
/* Write a new certificate per service under dir (public/ and secret/). */
int cs_curve_generate(const char *dir, const char *const *services, size_t n);

#endif
