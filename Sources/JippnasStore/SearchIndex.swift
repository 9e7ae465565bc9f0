import Foundation
import GRDB
import JippnasText

/// The catalogue's full-text index since `catalogue-v9-search-stems`: FTS5 over each record's title,
/// agency, summary and benefits as written, and beside them the Indonesian stems of the title and of the
/// rest (``IndonesianStemmer``), so that *izin* finds *perizinan* while the exact form still ranks first.
///
/// The index is written in batches, not row by row. Triggers on `innovation` only note which rows changed,
/// with the text the index holds for them, in `search_pending`; ``flush(_:)`` then updates the index with
/// two statements for the whole batch, in the same transaction, so a search never sees a record its index
/// does not. (A trigger that writes the FTS table itself costs a statement savepoint per row, at each of
/// which FTS5 flushes its pending terms into a new segment: most of what indexing cost the drain.)
///
/// Its content is the view `innovation_search_doc`, which computes the stems with the SQL function
/// `jippnas_stems` that every connection of ours registers. A plain `sqlite3` shell can search the index
/// (`SELECT rowid, rank FROM innovation_fts WHERE innovation_fts MATCH 'izin'`, joined to `innovation` by
/// rowid) and may change `innovation` (the triggers only note the rows; the next write of a daemon or a
/// command indexes them); it cannot read the stem columns, `snippet()` or rebuild the index, which need the
/// function.
enum SearchIndex {
    /// bm25 weights of title, agency, summary, benefits, the title's stems and the other fields' stems:
    /// a word in the title counts most, a stem of it next, and an exact form always more than its stem.
    /// The filters' terms weigh nothing: they narrow, they do not rank.
    static let rankFunction = "bm25(10.0, 4.0, 1.0, 1.0, 5.0, 0.5, 0.0)"

    /// What searches rank by: the weights above in `jippnas_rank` (CSearchRank), bm25 without the IDF
    /// that bm25() computes by reading every match of every word before its first result. The table's own
    /// `rank` (bm25) stays configured, for a `sqlite3` shell, which lacks jippnas_rank.
    static let rankCall = "jippnas_rank(innovation_fts, 10.0, 4.0, 1.0, 1.0, 5.0, 0.5, 0.0)"
    static let stemsFunctionName = "jippnas_stems"
    /// What the stems this process computes depend on (``IndonesianStemmer/fingerprint``).
    static var stemmerFingerprint: String { IndonesianStemmer.shared.fingerprint }

    /// `jippnas_stems(text)`: the stems of every word of `text`, separated by spaces.
    static let stemsFunction = DatabaseFunction(stemsFunctionName, argumentCount: 1, pure: true) { values in
        guard let text = String.fromDatabaseValue(values[0]) else { return "" }
        return IndonesianStemmer.shared.stemText(text)
    }

    /// Migration `catalogue-v9-search-stems`: retired v4's index and its per-row triggers. Its index is
    /// replaced in v10 by one that also holds the filters, so it only drops v4's objects now: a catalogue
    /// migrated from before v9 builds one index, not two.
    static func retireV4(_ db: Database) throws {
        try db.execute(sql: """
            DROP TRIGGER IF EXISTS innovation_fts_insert;
            DROP TRIGGER IF EXISTS innovation_fts_delete;
            DROP TRIGGER IF EXISTS innovation_fts_update;
            DROP TABLE IF EXISTS innovation_fts;
            """)
    }

    /// The filters of a row as index terms (`p35 r3578 ckesehatan kdigital spenerapan tactive y2021 w0`),
    /// from the columns named `prefix`hub, … (`old.` in a trigger, nothing in the view). Each begins with
    /// U+E000, a private-use character that unicode61 keeps inside a token and no text holds, so a filter
    /// term never matches a word and a query needs no column filter for it: FTS5 reads a column filter's
    /// positions for every entry, 3 ms of a filtered search at a million records.
    static func filterTerms(_ prefix: String = "") -> String {
        let mark = "char(\(FilterTerms.mark.value))"
        let parts = [
            "'p' || replace(\(prefix)hub, '.', '')", "'r' || replace(\(prefix)region, '.', '')",
            "'c' || replace(\(prefix)category, '_', '')", "'k' || replace(\(prefix)kind, '_', '')",
            "'s' || replace(\(prefix)stage, '_', '')", "'t' || replace(\(prefix)status, '_', '')",
            "'y' || coalesce(substr(\(prefix)launched_on, 1, 4), 'none')", "'w' || \(prefix)withdrawn",
        ]
        return parts.map { "\(mark) || \($0)" }.joined(separator: " || ' ' || ")
    }

    /// The text columns and their stems as the index holds them, from the row's columns: without the
    /// filters' mark, so that a hub's text cannot spell a filter term.
    static func textColumns() -> String {
        let mark = "char(\(FilterTerms.mark.value))"
        func text(_ column: String) -> String { "replace(\(column), \(mark), '')" }
        let rest = "coalesce(\(text("agency")), '') || ' ' || coalesce(\(text("summary")), '') || ' ' || coalesce(\(text("benefits")), '')"
        return """
            \(text("title")) AS title, \(text("agency")) AS agency, \(text("summary")) AS summary, \(text("benefits")) AS benefits,
            \(stemsFunctionName)(\(text("title"))) AS title_stems, \(stemsFunctionName)(\(rest)) AS text_stems
            """
    }

    /// The columns whose change a row's index entry follows: its text and its filters.
    static let indexedColumns = ["title", "agency", "summary", "benefits", "hub", "region", "category", "kind", "stage", "status",
                                 "launched_on", "withdrawn"]

    /// Migration `catalogue-v10-search-filters`: the index of text, stems and filters, its triggers, and
    /// the index built from every record.
    static func create(_ db: Database) throws {
        let changed = indexedColumns.map { "old.\($0) IS NOT new.\($0)" }.joined(separator: " OR ")
        let oldValues = indexedColumns.map { "old.\($0)" }.joined(separator: ", ")
        try db.execute(sql: """
            DROP TRIGGER IF EXISTS innovation_search_insert;
            DROP TRIGGER IF EXISTS innovation_search_delete;
            DROP TRIGGER IF EXISTS innovation_search_update;
            DROP TABLE IF EXISTS innovation_fts_vocab;
            DROP TABLE IF EXISTS innovation_fts;
            DROP VIEW IF EXISTS innovation_search_doc;
            DROP TABLE IF EXISTS search_pending;
            CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
            CREATE VIEW innovation_search_doc AS
                SELECT rowid AS doc, \(textColumns()), \(filterTerms()) AS filters
                FROM innovation;
            CREATE VIRTUAL TABLE innovation_fts USING fts5(
                title, agency, summary, benefits, title_stems, text_stems, filters,
                content='innovation_search_doc', content_rowid='doc',
                tokenize='unicode61 remove_diacritics 2'
            );
            INSERT INTO innovation_fts(innovation_fts, rank) VALUES ('rank', '\(rankFunction)');
            -- The index's terms and how many records hold each: what a mistyped word is corrected to.
            CREATE VIRTUAL TABLE innovation_fts_vocab USING fts5vocab(innovation_fts, 'row');
            -- Rows whose index entry is out of date: `indexed` = 1 with the values the index holds for the row
            -- (its first old values in this batch), 0 for a row the index does not hold yet. NOT EXISTS, not
            -- OR IGNORE: inside a trigger the outer statement's conflict handling (an upsert's) overrides it.
            -- The value columns have no type, so no affinity: a region 35.10 stays the text '35.10' (a
            -- numeric affinity would store 35.1, and the old entry's terms could not be removed).
            CREATE TABLE search_pending (
                doc INTEGER PRIMARY KEY, indexed INTEGER NOT NULL,
                \(indexedColumns.joined(separator: ", "))
            );
            CREATE TRIGGER innovation_search_insert AFTER INSERT ON innovation BEGIN
                INSERT INTO search_pending(doc, indexed) SELECT new.rowid, 0
                WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE doc = new.rowid);
            END;
            CREATE TRIGGER innovation_search_delete AFTER DELETE ON innovation BEGIN
                INSERT INTO search_pending SELECT old.rowid, 1, \(oldValues)
                WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE doc = old.rowid);
            END;
            CREATE TRIGGER innovation_search_update AFTER UPDATE OF \(indexedColumns.joined(separator: ", ")) ON innovation
            WHEN \(changed) BEGIN
                INSERT INTO search_pending SELECT old.rowid, 1, \(oldValues)
                WHERE NOT EXISTS (SELECT 1 FROM search_pending WHERE doc = old.rowid);
            END;
            """)
        try rebuild(db)
    }

    /// Brings the index up to date with the rows noted since the last flush: one statement removes their
    /// old entries, one adds the current ones. Called at the end of every write transaction of the store.
    static func flush(_ db: Database) throws {
        guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM search_pending)")) == true else { return }
        try db.execute(sql: """
            INSERT INTO innovation_fts(innovation_fts, rowid, title, agency, summary, benefits, title_stems, text_stems, filters)
                SELECT 'delete', doc, \(textColumns()), \(filterTerms())
                FROM search_pending WHERE indexed = 1;
            INSERT INTO innovation_fts(rowid, title, agency, summary, benefits, title_stems, text_stems, filters)
                SELECT d.doc, d.title, d.agency, d.summary, d.benefits, d.title_stems, d.text_stems, d.filters
                FROM search_pending p JOIN innovation_search_doc d ON d.doc = p.doc;
            DELETE FROM search_pending;
            """)
    }

    /// Counts the store's write transactions, so that a cache of results (``CachedSearch``) knows when its
    /// answers may be out of date: any commit may change a record a page shows.
    static let bumpVersion = """
        INSERT INTO search_meta(key, value) VALUES ('version', '1')
        ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT);
        """

    /// What ``bumpVersion`` counted: changes differ exactly when this does.
    static func version(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT CAST(value AS INTEGER) FROM search_meta WHERE key = 'version'")) ?? 0
    }

    /// Rebuilds the whole index from the records and records the stemmer it was built with.
    static func rebuild(_ db: Database) throws {
        try db.execute(sql: """
            DELETE FROM search_pending;
            INSERT INTO innovation_fts(innovation_fts) VALUES ('rebuild');
            INSERT OR REPLACE INTO search_meta(key, value) VALUES ('stemmer', ?);
            \(bumpVersion)
            """, arguments: [IndonesianStemmer.shared.fingerprint])
    }

    /// The fingerprint of the stemmer the index was built with. When it is not this process's (a new version
    /// of the rules, or another dictionary) the index must be rebuilt before any write: removing an entry
    /// needs the very stems it was added with.
    static func builtWith(_ db: Database) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM search_meta WHERE key = 'stemmer'")
    }
}

/// Who may bring a catalogue's search index up to date when opening it (``CatalogueStore/init(path:access:searchIndex:progress:)``).
public enum SearchIndexUpkeep: Sendable {
    /// The database's owner (a daemon under its lock, `catalogue reindex`): migrate and rebuild as needed.
    case rebuildIfStale
    /// Any other writer: a catalogue whose index needs rebuilding is refused, not rebuilt under a daemon.
    case requireCurrent
}

/// The first full-text index (migration `catalogue-v4-search`, replaced by ``SearchIndex`` in v9 and kept so
/// that an old catalogue migrates step by step): FTS5 over title, agency, summary and benefits with the
/// `innovation` table as content, kept in step by per-row triggers.
enum SearchIndexV4 {
    /// bm25 weights of title, agency, summary and benefits: a word in the title counts most.
    ///
    /// No prefix index (`prefix='2 3'`): prefix terms are found by a range scan of the term dictionary,
    /// which for words of three letters or more is as fast, while the two prefix indexes tripled what
    /// each record writes into the index and cost the aggregator's drain a fifth of its rate
    /// (docs/CATALOGUE.md, Speed).
    static let rankFunction = "bm25(10.0, 4.0, 1.0, 1.0)"

    /// Migration `catalogue-v4-search`: creates the index, its triggers, and indexes what is already there.
    ///
    /// The index refers to `innovation` rows by rowid. `VACUUM` may renumber the rowids of a table
    /// without an INTEGER PRIMARY KEY, so after a VACUUM the index is rebuilt (`jippnas catalogue reindex`).
    static func create(_ db: Database) throws {
        try db.execute(sql: """
            CREATE VIRTUAL TABLE innovation_fts USING fts5(
                title, agency, summary, benefits,
                content='innovation', content_rowid='rowid',
                tokenize='unicode61 remove_diacritics 2'
            );
            INSERT INTO innovation_fts(innovation_fts, rank) VALUES ('rank', '\(rankFunction)');
            CREATE TRIGGER innovation_fts_insert AFTER INSERT ON innovation BEGIN
                INSERT INTO innovation_fts(rowid, title, agency, summary, benefits)
                VALUES (new.rowid, new.title, new.agency, new.summary, new.benefits);
            END;
            CREATE TRIGGER innovation_fts_delete AFTER DELETE ON innovation BEGIN
                INSERT INTO innovation_fts(innovation_fts, rowid, title, agency, summary, benefits)
                VALUES ('delete', old.rowid, old.title, old.agency, old.summary, old.benefits);
            END;
            CREATE TRIGGER innovation_fts_update AFTER UPDATE OF title, agency, summary, benefits ON innovation
            WHEN old.title IS NOT new.title OR old.agency IS NOT new.agency OR old.summary IS NOT new.summary
                OR old.benefits IS NOT new.benefits BEGIN
                INSERT INTO innovation_fts(innovation_fts, rowid, title, agency, summary, benefits)
                VALUES ('delete', old.rowid, old.title, old.agency, old.summary, old.benefits);
                INSERT INTO innovation_fts(rowid, title, agency, summary, benefits)
                VALUES (new.rowid, new.title, new.agency, new.summary, new.benefits);
            END;
            INSERT INTO innovation_fts(innovation_fts) VALUES ('rebuild');
            CREATE INDEX innovation_replicates ON innovation(replicates) WHERE replicates IS NOT NULL;
            CREATE INDEX innovation_region ON innovation(region);
            """)
    }
}
