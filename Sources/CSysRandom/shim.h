#ifndef CSYSRANDOM_SHIM_H
#define CSYSRANDOM_SHIM_H
/* getrandom(2) from glibc's <sys/random.h>, which Swift's Glibc module does not include. */
#include <sys/random.h>
#endif
