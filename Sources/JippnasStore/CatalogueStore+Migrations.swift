import GRDB

extension CatalogueStore {
    static let migrator: DatabaseMigrator = {
        var m = DatabaseMigrator()
        m.registerMigration("catalogue-v1") { db in
            try db.execute(sql: """
                CREATE TABLE innovation (
                    global_id TEXT PRIMARY KEY,
                    hub TEXT NOT NULL,
                    id TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    title TEXT NOT NULL,
                    agency TEXT NOT NULL,
                    region TEXT NOT NULL,
                    category TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    stage TEXT NOT NULL,
                    initiator TEXT,
                    launched_on TEXT,
                    summary TEXT,
                    benefits TEXT,
                    contact TEXT,
                    url TEXT,
                    status TEXT NOT NULL,
                    replicates TEXT,
                    updated_at TEXT NOT NULL,
                    withdrawn INTEGER NOT NULL DEFAULT 0,
                    withdrawn_at TEXT,
                    last_seq INTEGER NOT NULL,
                    last_message_id TEXT NOT NULL,
                    received_at TEXT NOT NULL
                );
                CREATE INDEX innovation_hub ON innovation(hub, id);
                CREATE INDEX innovation_category ON innovation(category);
                CREATE TABLE history (
                    id INTEGER PRIMARY KEY,
                    global_id TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    event TEXT NOT NULL,
                    hub TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    message_id TEXT NOT NULL UNIQUE,
                    sent_at TEXT NOT NULL,
                    received_at TEXT NOT NULL,
                    body BLOB NOT NULL
                );
                CREATE INDEX history_innovation ON history(global_id, revision);
                CREATE TABLE hub_state (
                    hub TEXT PRIMARY KEY,
                    highest_seq INTEGER NOT NULL DEFAULT 0,
                    last_message_at TEXT NOT NULL,
                    applied INTEGER NOT NULL DEFAULT 0,
                    duplicates INTEGER NOT NULL DEFAULT 0,
                    stale INTEGER NOT NULL DEFAULT 0,
                    dead_letters INTEGER NOT NULL DEFAULT 0,
                    contiguous_seq INTEGER NOT NULL DEFAULT 0,
                    gap_since TEXT,
                    last_checkpoint_at TEXT,
                    last_checkpoint_seq INTEGER,
                    last_resync_at TEXT
                );
                CREATE TABLE hub_seq_pending (
                    hub TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (hub, seq)
                ) WITHOUT ROWID;
                CREATE TABLE reconciliation (
                    id INTEGER PRIMARY KEY,
                    hub TEXT NOT NULL,
                    requested_at TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    from_seq INTEGER,
                    completed_at TEXT,
                    records_fixed INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE dead_letter (
                    id INTEGER PRIMARY KEY,
                    received_at TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    routing_key TEXT NOT NULL,
                    message_id TEXT,
                    hub TEXT,
                    body_prefix TEXT NOT NULL
                );
                """)
        }
        m.registerMigration("catalogue-v2-dead-letter-detail") { db in
            try db.execute(sql: "ALTER TABLE dead_letter ADD COLUMN detail TEXT")
        }
        // Hub epochs: which store of a hub set each record and revision, which epochs a hub has left, and
        // records a restored hub no longer had (withdrawn here, marked orphaned).
        m.registerMigration("catalogue-v3-hub-epochs") { db in
            try db.execute(sql: """
                ALTER TABLE innovation ADD COLUMN hub_epoch TEXT NOT NULL DEFAULT '';
                ALTER TABLE innovation ADD COLUMN orphaned_at TEXT;
                ALTER TABLE history ADD COLUMN hub_epoch TEXT NOT NULL DEFAULT '';
                DROP INDEX history_innovation;
                CREATE INDEX history_innovation ON history(global_id, hub_epoch, revision);
                ALTER TABLE hub_state ADD COLUMN epoch TEXT NOT NULL DEFAULT '';
                ALTER TABLE hub_state ADD COLUMN epoch_since TEXT;
                CREATE TABLE hub_epoch (
                    hub TEXT NOT NULL,
                    epoch TEXT NOT NULL,
                    first_seen_at TEXT NOT NULL,
                    retired_at TEXT,
                    refused_at TEXT,
                    refused INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (hub, epoch)
                ) WITHOUT ROWID;
                """)
        }
        m.registerMigration("catalogue-v4-search", migrate: SearchIndexV4.create)
        // A catalogue built from the history stream: the next offset to read, kept with the changes.
        m.registerMigration("catalogue-v5-stream-position") { db in
            try db.execute(sql: """
                CREATE TABLE stream_position (
                    stream TEXT PRIMARY KEY,
                    next_offset INTEGER NOT NULL,
                    updated_at TEXT NOT NULL
                ) WITHOUT ROWID
                """)
        }
        // The publisher's signature beside the body it covers: with the chain inside a relayed body, a
        // history row proves every hop on its own. A relaying hub reads its forwardable rows by id.
        m.registerMigration("catalogue-v6-history-signature") { db in
            try db.execute(sql: """
                ALTER TABLE history ADD COLUMN key_id TEXT;
                ALTER TABLE history ADD COLUMN signature TEXT;
                """)
        }
        // The national feed: which records changed since it was last published, and a mirror's place.
        m.registerMigration("catalogue-v7-feed", migrate: CatalogueStore.createFeedTables)
        // Relayed records are ordered by their originating store's epoch, not the relaying hub's: a
        // kabupaten/kota restored from a backup goes back to lower revisions behind an unchanged province.
        m.registerMigration("catalogue-v8-origin-epochs") { db in
            try db.execute(sql: """
                ALTER TABLE innovation ADD COLUMN origin_epoch TEXT NOT NULL DEFAULT '';
                ALTER TABLE history ADD COLUMN origin_epoch TEXT NOT NULL DEFAULT '';
                CREATE TABLE origin_epoch (
                    hub TEXT NOT NULL,
                    epoch TEXT NOT NULL,
                    first_seen_at TEXT NOT NULL,
                    retired_at TEXT,
                    PRIMARY KEY (hub, epoch)
                ) WITHOUT ROWID;
                """)
        }
        m.registerMigration("catalogue-v9-search-stems", migrate: SearchIndex.retireV4)
        m.registerMigration("catalogue-v10-search-filters", migrate: SearchIndex.create)
        return m
    }()
}
