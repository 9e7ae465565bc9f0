// Snowball's stemmers (Debian's libstemmer-dev), for Indonesian words Hunspell's dictionary does not know.
#include <libstemmer.h>
