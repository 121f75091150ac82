#ifndef CLDAP_SHIM_H
#define CLDAP_SHIM_H
/* OpenLDAP's libldap. Only the reentrant _ext APIs are used; LDAP_DEPRECATED stays off. */
#include <ldap.h>
#include <lber.h>
#endif
