import Foundation
import GRDB
import JippnasCore
@testable import JippnasStore
import JippnasTestSupport
import Synchronization
import Testing

@Suite("Search in Indonesian: stems, phrases, exclusions, batched index")
struct IndonesianSearchTests {
    let dir = TempDir("search-id")

    func change(_ id: String, revision: Int64 = 1, seq: Int64, title: String, summary: String? = nil,
                event: ChangeEvent = .upsert) -> IncomingChange
    {
        var content = SampleData.contents(province: "35", count: 1)[0]
        content.id = id
        content.title = title
        content.summary = summary
        content.agency = "Dinas Uji"
        let envelope = Envelope(hub: "35", seq: seq, event: event, sentAt: Timestamp.now(),
                                innovation: content.innovation(revision: revision, updatedAt: Timestamp.now()))
        return IncomingChange(envelope: envelope, messageID: UUID().uuidString, routingKey: envelope.routingKey,
                              body: EnvelopeCodec.encode(envelope))
    }

    func ids(_ s: CatalogueStore, _ text: String) throws -> [String] {
        try s.search(CatalogueQuery(text: text, limit: 100).validated()).hits.map(\.entry.globalID)
    }

    func sample() throws -> CatalogueStore {
        let s = try CatalogueStore(path: dir.file("c-\(UUID().uuidString).sqlite"))
        _ = try s.apply([
            change("izin", seq: 1, title: "Perizinan Usaha Mikro Terpadu"),
            change("adminduk", seq: 2, title: "Pelayanan Administrasi Kependudukan Keliling"),
            change("layanan", seq: 3, title: "Layanan Kependudukan Daring", summary: "Akta kelahiran daring."),
            change("akta", seq: 4, title: "Akta Kelahiran Jemput Bola", summary: "Petugas datang ke desa."),
            change("kelola", seq: 5, title: "Pengelolaan Sampah Berbasis Masyarakat"),
            change("digital", seq: 6, title: "Pasar Digital Desa"),
        ])
        return s
    }

    @Test("a root or another affixed form finds the title's form")
    func stemsMatch() throws {
        let s = try sample()
        #expect(try ids(s, "izin usaha") == ["35:izin"])
        #expect(try Set(ids(s, "layanan kependudukan")) == ["35:adminduk", "35:layanan"])
        #expect(try ids(s, "kelola sampah") == ["35:kelola"])
        #expect(try ids(s, "penduduk").count == 2)
        #expect(try ids(s, "gital").isEmpty, "Snowball's cut of digital is not a stem here")
    }

    @Test("the exact form ranks above a stem match")
    func exactFirst() throws {
        let s = try sample()
        #expect(try ids(s, "layanan kependudukan") == ["35:layanan", "35:adminduk"])
        #expect(try ids(s, "pelayanan kependudukan") == ["35:adminduk", "35:layanan"])
    }

    @Test("a minus leaves records out, quotes ask for a phrase, and a minus alone filters a listing")
    func syntax() throws {
        let s = try sample()
        #expect(try ids(s, "akta kelahiran -daring") == ["35:akta"])
        #expect(try Set(ids(s, "akta kelahiran")) == ["35:akta", "35:layanan"])
        #expect(try ids(s, "\"jemput bola\"") == ["35:akta"])
        #expect(try ids(s, "\"bola jemput\"").isEmpty)
        #expect(try ids(s, "-daring -kependudukan").sorted() == ["35:akta", "35:digital", "35:izin", "35:kelola"])
        let listing = try s.search(CatalogueQuery(text: "-daring").validated())
        #expect(listing.hits.allSatisfy { $0.rank == nil })
    }

    @Test("a mistyped word that matches nothing is searched as the terms it most likely meant, and the page says so")
    func typos() throws {
        let s = try sample()
        _ = try s.apply([change("pkm", seq: 7, title: "Puskesmas Ramah Anak")])
        let page = try s.search(CatalogueQuery(text: "puskesmaas anak").validated())
        #expect(page.hits.map(\.entry.globalID) == ["35:pkm"])
        #expect(page.corrections == [SearchCorrection(word: "puskesmaas", replacements: ["puskesmas"])])
        #expect(try ids(s, "pengelolan sampah") == ["35:kelola"], "one edit at eight letters")
        #expect(try s.search(CatalogueQuery(text: "puskesmas").validated()).corrections.isEmpty)
        #expect(try ids(s, "dsa").isEmpty, "a short word is not corrected")
        #expect(try ids(s, "zzzzzzzz").isEmpty)
    }

    @Test("the pages after a corrected or shortened first page continue that same search, from the cursor")
    func rewrittenPagesContinue() throws {
        let s = try sample()
        _ = try s.apply((1...25).map { change("pkm\($0)", seq: Int64(100 + $0), title: "Puskesmas Keliling \($0)") })
        var seen: [String] = []
        var query = try CatalogueQuery(text: "puskesmaas keliling", limit: 10).validated()
        repeat {
            let page = try s.search(query)
            #expect(page.corrections == [SearchCorrection(word: "puskesmaas", replacements: ["puskesmas"])])
            seen += page.hits.map(\.entry.globalID)
            query.after = page.next.flatMap { SearchCursor(token: $0.token) }
        } while query.after != nil
        #expect(seen.count == 25 && Set(seen).count == 25)
        var left = try CatalogueQuery(text: "puskesmas keliling zzzz", limit: 10).validated()
        let first = try s.search(left)
        left.after = first.next
        #expect(first.leftOut == ["zzzz"] && first.next?.rewrite?.leftOut == ["zzzz"])
        #expect(try s.search(left).leftOut == ["zzzz"])
    }

    @Test("when no record holds every word, the most common is left out and the page names it")
    func relaxation() throws {
        let s = try sample()
        let page = try s.search(CatalogueQuery(text: "pasar digital kota").validated())
        #expect(page.hits.map(\.entry.globalID) == ["35:digital"] && page.leftOut == ["kota"])
        _ = try s.apply([change("kota", seq: 7, title: "Taman Kota"), change("kota2", seq: 8, title: "Kota Layak Anak")])
        let common = try s.search(CatalogueQuery(text: "kota sampah").validated())
        #expect(common.leftOut == ["kota"] && common.hits.map(\.entry.globalID) == ["35:kelola"], "the most common word goes first")
        #expect(try s.search(CatalogueQuery(text: "zzzz").validated()).leftOut.isEmpty, "one word is never left out")
        #expect(try s.search(CatalogueQuery(text: "pasar digital").validated()).leftOut.isEmpty)
        let elsewhere = try s.search(CatalogueQuery(text: "pasar digital", province: "33").validated())
        #expect(elsewhere.hits.isEmpty && elsewhere.leftOut.isEmpty, "words held together elsewhere: no word is left out")
    }

    @Test("writes outside the store's own (a sqlite3 shell) are indexed by the next write, and the index stays consistent")
    func pendingRowsFlush() throws {
        let s = try sample()
        try s.pool.write { db in
            try db.execute(sql: "DELETE FROM innovation WHERE global_id = '35:izin'")
            try db.execute(sql: "UPDATE innovation SET title = 'Pembayaran Pajak Daring' WHERE global_id = '35:digital'")
        }
        _ = try s.apply([change("baru", seq: 7, title: "Pendaftaran Sekolah")])
        #expect(try ids(s, "izin").isEmpty)
        #expect(try ids(s, "bayar pajak") == ["35:digital"])
        #expect(try ids(s, "daftar") == ["35:baru"])
        #expect(try s.searchIndexIsConsistent())
        #expect(try s.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM search_pending") } == 0)
    }

    @Test("an index built with other stems is rebuilt when the catalogue is opened")
    func stemmerChangeRebuilds() throws {
        let path = dir.file("stems.sqlite")
        do {
            let s = try CatalogueStore(path: path)
            _ = try s.apply([change("izin", seq: 1, title: "Perizinan Usaha Mikro Terpadu")])
            try s.pool.write { db in
                // As if built by another version: its entries hold other stems, its fingerprint says so.
                try db.execute(sql: """
                    INSERT INTO innovation_fts(innovation_fts) VALUES ('delete-all');
                    UPDATE search_meta SET value = 'rules 0' WHERE key = 'stemmer';
                    """)
            }
        }
        // A command that is not the database's owner must not rebuild under a running daemon.
        #expect(throws: StoreError.self) { try CatalogueStore(path: path) }
        let notes = Mutex<[String]>([])
        let reopened = try CatalogueStore(path: path, searchIndex: .rebuildIfStale) { note in notes.withLock { $0.append(note) } }
        #expect(notes.withLock { $0 }.count == 1 && notes.withLock { $0 }[0].contains("rules 0"))
        #expect(try ids(reopened, "izin") == ["35:izin"])
        #expect(try reopened.searchIndexIsConsistent())
    }
}
