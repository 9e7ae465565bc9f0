#ifndef JIPPNAS_RANK_H
#define JIPPNAS_RANK_H

struct sqlite3;

/// Registers the FTS5 auxiliary function `jippnas_rank(fts, w0, w1, ...)` on `db`: bm25 with the given
/// column weights and every term's IDF taken as 1. Returns an SQLite result code.
int jippnas_register_rank(struct sqlite3 *db);

#endif
