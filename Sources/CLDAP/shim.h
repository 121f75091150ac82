#ifndef CLDAP_SHIM_H
#define CLDAP_SHIM_H
/* OpenLDAP's libldap. Only the reentrant _ext APIs are used; LDAP_DEPRECATED stays off.
 *
 * The small static inline helpers below wrap what Swift imports badly: options that take a
 * pointer to a C int or struct timeval, the LDAP_SASL_SIMPLE macro ((char *)0), and the
 * RFC 2696 paged-results control plumbing (create the request control, find and parse the
 * response control). They hold no state; every call works on the LDAP handle it is given. */
#include <stddef.h>
#include <stdlib.h>
#include <sys/time.h>
#include <ldap.h>
#include <lber.h>

/* Option setters: libldap copies the pointed-to value, so stack temporaries are fine. */
static inline int cldap_set_int(LDAP *ld, int option, int value) {
    return ldap_set_option(ld, option, &value);
}

static inline int cldap_set_off(LDAP *ld, int option) {
    return ldap_set_option(ld, option, LDAP_OPT_OFF);
}

static inline int cldap_set_string(LDAP *ld, int option, const char *value) {
    return ldap_set_option(ld, option, value);
}

static inline struct timeval cldap_timeval(long milliseconds) {
    struct timeval tv;
    tv.tv_sec = milliseconds / 1000;
    tv.tv_usec = (milliseconds % 1000) * 1000;
    return tv;
}

/* LDAP_OPT_NETWORK_TIMEOUT (TCP connect, TLS handshake) and LDAP_OPT_TIMEOUT (synchronous calls). */
static inline int cldap_set_timeout(LDAP *ld, int option, long milliseconds) {
    struct timeval tv = cldap_timeval(milliseconds);
    return ldap_set_option(ld, option, &tv);
}

/* The server's or library's diagnostic text for the last failure (e.g. a TLS verification
 * error), or NULL. Free with ldap_memfree. */
static inline char *cldap_diagnostic(LDAP *ld) {
    char *message = NULL;
    if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &message) != LDAP_OPT_SUCCESS) return NULL;
    return message;
}

/* The TLS implementation libldap was built with ("GnuTLS" on Debian, "OpenSSL" elsewhere).
 * Free with ldap_memfree. */
static inline char *cldap_tls_package(void) {
    char *package = NULL;
    if (ldap_get_option(NULL, LDAP_OPT_X_TLS_PACKAGE, &package) != LDAP_OPT_SUCCESS) return NULL;
    return package;
}

/* RFC 4513 §5.1.3 simple bind, asynchronous. The password is a counted byte string. */
static inline int cldap_simple_bind(LDAP *ld, const char *dn, const char *password, size_t length, int *msgid) {
    struct berval credentials;
    credentials.bv_val = (char *)password;
    credentials.bv_len = (ber_len_t)length;
    return ldap_sasl_bind(ld, dn, LDAP_SASL_SIMPLE, &credentials, NULL, NULL, msgid);
}

/* Waits up to `milliseconds` for the complete answer to `msgid` (all entries and the result).
 * Returns ldap_result's value: -1 on error, 0 on timeout, else the message type. */
static inline int cldap_wait(LDAP *ld, int msgid, long milliseconds, LDAPMessage **result) {
    struct timeval tv = cldap_timeval(milliseconds);
    return ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, result);
}

/* Starts a search. With pageSize > 0 it carries a non-critical RFC 2696 simple paged results
 * control with the given cookie (empty on the first page), so servers without paging still answer.
 * timeLimit is sent to the server in seconds (0 = none) and also bounds the client. */
static inline int cldap_search(LDAP *ld, const char *base, int scope, const char *filter, char **attrs,
                               int pageSize, const char *cookie, size_t cookieLength,
                               int sizeLimit, long timeLimitMilliseconds, int *msgid) {
    LDAPControl *page = NULL;
    LDAPControl *controls[2] = { NULL, NULL };
    if (pageSize > 0) {
        struct berval value;
        value.bv_val = (char *)cookie;
        value.bv_len = (ber_len_t)cookieLength;
        int rc = ldap_create_page_control(ld, pageSize, &value, 0, &page);
        if (rc != LDAP_SUCCESS) return rc;
        controls[0] = page;
    }
    struct timeval tv = cldap_timeval(timeLimitMilliseconds);
    int rc = ldap_search_ext(ld, base, scope, filter, attrs, 0, page ? controls : NULL, NULL,
                             timeLimitMilliseconds > 0 ? &tv : NULL, sizeLimit, msgid);
    if (page) ldap_control_free(page);
    return rc;
}

/* Parses the final result of an operation (it is found in a chain of entries too): the result
 * code, the diagnostic message (free with ldap_memfree) and, when the server sent an RFC 2696
 * response control, the cookie for the next page (free cookie->bv_val with ber_memfree; an empty
 * cookie means the last page). Does not free `result`. */
static inline int cldap_parse_result(LDAP *ld, LDAPMessage *result, int *code, char **diagnostic,
                                     struct berval *cookie) {
    LDAPControl **controls = NULL;
    char *matched = NULL;
    cookie->bv_len = 0;
    cookie->bv_val = NULL;
    int rc = ldap_parse_result(ld, result, code, &matched, diagnostic, NULL, &controls, 0);
    if (matched) ldap_memfree(matched);
    if (rc == LDAP_SUCCESS && controls) {
        LDAPControl *page = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, controls, NULL);
        if (page) {
            ber_int_t estimate = 0;
            if (ldap_parse_pageresponse_control(ld, page, &estimate, cookie) != LDAP_SUCCESS) {
                cookie->bv_len = 0;
                cookie->bv_val = NULL;
            }
        }
        ldap_controls_free(controls);
    }
    return rc;
}

/* StartTLS (RFC 4511 §4.14), synchronous; bounded by LDAP_OPT_TIMEOUT and LDAP_OPT_NETWORK_TIMEOUT. */
static inline int cldap_start_tls(LDAP *ld) {
    return ldap_start_tls_s(ld, NULL, NULL);
}

static inline int cldap_unbind(LDAP *ld) {
    return ldap_unbind_ext(ld, NULL, NULL);
}

static inline int cldap_abandon(LDAP *ld, int msgid) {
    return ldap_abandon_ext(ld, msgid, NULL, NULL);
}

#endif
