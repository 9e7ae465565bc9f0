/* (c) Consumes COUNT envelopes from QUEUE into a jippnas catalogue file (created by jippnas, so the
 * schema, indexes and WAL mode are ours) the fastest way SQLite allows: prepared statements, SQLite's
 * own JSON functions, synchronous=FULL, one transaction per 500 messages, acknowledged (multiple) after
 * each commit. It upserts the record when the revision is newer and records the body in history once
 * per message id; it keeps no hub state, checks no signature and validates nothing, so it bounds what
 * the aggregator could reach on this machine.
 * usage: raw_catalogue host port vhost user password queue count catalogue.sqlite */
#include "common.h"
#include <sqlite3.h>

#define BATCH 500

static void check(sqlite3 *db, int rc, const char *what) {
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
    fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *stmt;
    check(db, sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), sql);
    return stmt;
}

/* Applies one envelope: parse once, then the upsert and the history row with plain binds. */
static void apply(sqlite3 *db, sqlite3_stmt *fields, sqlite3_stmt *upsert, sqlite3_stmt *history,
                  amqp_bytes_t body, const char *id, const char *now) {
    sqlite3_bind_text(fields, 1, body.bytes, (int)body.len, SQLITE_STATIC);
    check(db, sqlite3_step(fields), "parse");
    #define F(i) sqlite3_column_value(fields, i)
    sqlite3_bind_value(upsert, 1, F(0));
    for (int i = 4; i <= 20; i++) sqlite3_bind_value(upsert, i - 2, F(i));  /* id .. updated_at -> ?2 .. ?18 */
    sqlite3_bind_value(upsert, 19, F(2));
    sqlite3_bind_value(upsert, 20, F(1));
    sqlite3_bind_text(upsert, 21, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(upsert, 22, now, -1, SQLITE_STATIC);
    check(db, sqlite3_step(upsert), "upsert");
    sqlite3_reset(upsert);
    sqlite3_bind_value(history, 1, F(0));
    sqlite3_bind_value(history, 2, F(4));
    sqlite3_bind_value(history, 3, F(5));
    sqlite3_bind_value(history, 4, F(2));
    sqlite3_bind_value(history, 5, F(1));
    sqlite3_bind_text(history, 6, id, -1, SQLITE_STATIC);
    sqlite3_bind_value(history, 7, F(3));
    sqlite3_bind_text(history, 8, now, -1, SQLITE_STATIC);
    sqlite3_bind_blob(history, 9, body.bytes, (int)body.len, SQLITE_STATIC);
    check(db, sqlite3_step(history), "history");
    sqlite3_reset(history);
    #undef F
    sqlite3_reset(fields);
}

int main(int argc, char **argv) {
    if (argc != 9) { fprintf(stderr, "usage: raw_catalogue host port vhost user password queue count db\n"); return 2; }
    long count = atol(argv[7]);
    sqlite3 *db;
    check(db, sqlite3_open(argv[8], &db), "open");
    check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL), "pragmas");
    /* One JSON parse per message: json_tree walks the envelope once and the pivot picks the fields
     * (columns 0-3: hub, seq, event, sent_at; 4-20: the innovation's fields in schema order). */
    sqlite3_stmt *fields = prepare(db, "SELECT max(CASE WHEN path = '$' AND key = 'hub' THEN atom END), "
        "max(CASE WHEN path = '$' AND key = 'seq' THEN atom END), "
        "max(CASE WHEN path = '$' AND key = 'event' THEN atom END), "
        "max(CASE WHEN path = '$' AND key = 'sent_at' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'id' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'revision' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'title' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'agency' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'region' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'category' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'kind' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'stage' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'initiator' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'launched_on' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'summary' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'benefits' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'contact' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'url' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'status' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'replicates' THEN atom END), "
        "max(CASE WHEN path = '$.innovation' AND key = 'updated_at' THEN atom END) FROM json_tree(?1)");
    sqlite3_stmt *upsert = prepare(db,
        "INSERT INTO innovation(global_id, hub, id, revision, title, agency, region, category, kind, stage,"
        " initiator, launched_on, summary, benefits, contact, url, status, replicates, updated_at, withdrawn,"
        " withdrawn_at, last_seq, last_message_id, received_at)"
        " VALUES (?1 || ':' || ?2, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
        " ?19 = 'withdraw', NULL, ?20, ?21, ?22)"
        " ON CONFLICT(global_id) DO UPDATE SET revision = excluded.revision, title = excluded.title,"
        " agency = excluded.agency, region = excluded.region, category = excluded.category, kind = excluded.kind,"
        " stage = excluded.stage, initiator = excluded.initiator, launched_on = excluded.launched_on,"
        " summary = excluded.summary, benefits = excluded.benefits, contact = excluded.contact, url = excluded.url,"
        " status = excluded.status, replicates = excluded.replicates, updated_at = excluded.updated_at,"
        " withdrawn = excluded.withdrawn, last_seq = excluded.last_seq, last_message_id = excluded.last_message_id,"
        " received_at = excluded.received_at WHERE excluded.revision > innovation.revision");
    sqlite3_stmt *history = prepare(db,
        "INSERT OR IGNORE INTO history(global_id, revision, event, hub, seq, message_id, sent_at, received_at, body)"
        " VALUES (?1 || ':' || ?2, ?3, ?4, ?1, ?5, ?6, ?7, ?8, ?9)");
    sqlite3_stmt *begin = prepare(db, "BEGIN IMMEDIATE"), *commit = prepare(db, "COMMIT");

    amqp_connection_state_t conn = raw_connect(argv + 1);
    amqp_basic_qos(conn, 1, 0, 1000, 0);
    die_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(argv[6]), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    die_reply(amqp_get_rpc_reply(conn), "basic.consume");
    long received = 0, in_batch = 0;
    double start = 0;
    char id[256];
    while (received < count) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(conn);
        die_reply(amqp_consume_message(conn, &envelope, NULL, 0), "consume");
        if (received == 0) start = now_seconds();
        if (in_batch == 0) { check(db, sqlite3_step(begin), "begin"); sqlite3_reset(begin); }
        amqp_bytes_t mid = envelope.message.properties.message_id;
        snprintf(id, sizeof id, "%.*s", (int)mid.len, (char *)mid.bytes);
        apply(db, fields, upsert, history, envelope.message.body, id, "2026-11-29T00:00:00.000Z");
        received++;
        in_batch++;
        if (in_batch == BATCH || received == count) {
            check(db, sqlite3_step(commit), "commit");
            sqlite3_reset(commit);
            die_status(amqp_basic_ack(conn, 1, envelope.delivery_tag, 1), "ack");
            in_batch = 0;
        }
        amqp_destroy_envelope(&envelope);
    }
    printf("%ld %.4f\n", count, now_seconds() - start);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    sqlite3_close(db);
    return 0;
}
