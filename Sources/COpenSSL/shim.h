#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
/* The system OpenSSL libcrypto, used for RS256 signing (faster than BoringSSL's RSA here). */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

/* Composite selection macros that Swift cannot import (they OR other macros together). */
static const int COPENSSL_EVP_PKEY_PUBLIC_KEY = EVP_PKEY_PUBLIC_KEY;
static const int COPENSSL_EVP_PKEY_KEYPAIR = EVP_PKEY_KEYPAIR;
#endif
