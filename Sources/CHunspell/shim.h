// Hunspell (Debian's libhunspell-dev): its C API, used with Debian's Indonesian dictionary (hunspell-id)
// for the stems of Indonesian words.
#include <hunspell/hunspell.h>
