// jippnas_rank: FTS5's bm25 without the inverse document frequency.
//
// FTS5's bm25() computes each phrase's IDF the first time it is called in a query, by counting every
// record that holds the phrase (xQueryPhrase over the whole doclist). For a word a third of the catalogue
// holds that is a third of a million records read before the first result, whatever LIMIT says: 90 % of
// a common word's search time at 100,000 rows. Every result of our searches holds every word (AND), so
// IDF only weighs one word's frequency against another's within a record; term frequency, column weights
// (title above summary, written form above stem) and length normalisation do the ranking. Lower is
// better, as bm25's: the score is negated.
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "jippnas_rank.h"

static const double k1 = 1.2;
static const double b = 0.75;

/// The catalogue's average record length in tokens, read once per query.
typedef struct {
    double averageLength;
} RankQuery;

static RankQuery *rank_query(const Fts5ExtensionApi *api, Fts5Context *fts, int *rc) {
    RankQuery *query = (RankQuery *)api->xGetAuxdata(fts, 0);
    if (query) return query;
    sqlite3_int64 rows = 0, tokens = 0;
    *rc = api->xRowCount(fts, &rows);
    if (*rc == SQLITE_OK) *rc = api->xColumnTotalSize(fts, -1, &tokens);
    if (*rc != SQLITE_OK) return 0;
    query = (RankQuery *)sqlite3_malloc(sizeof(RankQuery));
    if (!query) {
        *rc = SQLITE_NOMEM;
        return 0;
    }
    query->averageLength = rows > 0 && tokens > 0 ? (double)tokens / (double)rows : 1.0;
    *rc = api->xSetAuxdata(fts, query, sqlite3_free);
    return *rc == SQLITE_OK ? query : 0;
}

static void jippnas_rank(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int nValue,
                         sqlite3_value **values) {
    int rc = SQLITE_OK;
    RankQuery *query = rank_query(api, fts, &rc);
    int phrases = api->xPhraseCount(fts);
    int columns = api->xColumnCount(fts);
    int instances = 0, length = 0;
    if (rc == SQLITE_OK) rc = api->xInstCount(fts, &instances);
    if (rc == SQLITE_OK) rc = api->xColumnSize(fts, -1, &length);
    double *frequency = rc == SQLITE_OK ? (double *)sqlite3_malloc64(sizeof(double) * (phrases > 0 ? phrases : 1)) : 0;
    if (rc == SQLITE_OK && !frequency) rc = SQLITE_NOMEM;
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    memset(frequency, 0, sizeof(double) * (phrases > 0 ? phrases : 1));
    for (int i = 0; i < instances && rc == SQLITE_OK; i++) {
        int phrase = 0, column = 0, offset = 0;
        rc = api->xInst(fts, i, &phrase, &column, &offset);
        // A column without a weight weighs 1, as in bm25().
        double weight = column < nValue ? sqlite3_value_double(values[column]) : 1.0;
        if (rc == SQLITE_OK && phrase >= 0 && phrase < phrases && column < columns) frequency[phrase] += weight;
    }
    double score = 0.0;
    double norm = k1 * (1.0 - b + b * (double)length / query->averageLength);
    for (int p = 0; p < phrases; p++) {
        if (frequency[p] > 0) score += frequency[p] * (k1 + 1.0) / (frequency[p] + norm);
    }
    sqlite3_free(frequency);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
    } else {
        sqlite3_result_double(ctx, -score);
    }
}

int jippnas_register_rank(struct sqlite3 *db) {
    fts5_api *api = 0;
    sqlite3_stmt *statement = 0;
    int rc = sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &statement, 0);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_pointer(statement, 1, (void *)&api, "fts5_api_ptr", 0);
    sqlite3_step(statement);
    rc = sqlite3_finalize(statement);
    if (rc != SQLITE_OK) return rc;
    if (!api || api->iVersion < 2) return SQLITE_ERROR;
    return api->xCreateFunction(api, "jippnas_rank", 0, jippnas_rank, 0);
}
