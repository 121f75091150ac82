#ifndef CCRYPT_SHIM_H
#define CCRYPT_SHIM_H
/* libxcrypt: bcrypt ($2a$ $2b$ $2y$) through crypt_rn / crypt_gensalt_rn. */
#include <crypt.h>
#endif
