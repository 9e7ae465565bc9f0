import Foundation
import JippnasCore
@testable import JippnasStore
import JippnasText
import Testing

/// What a result page offers beyond the hits: counts and facets, snippets, orders, numbered pages.
extension CatalogueSearchTests {
    func replicating(_ id: String, _ target: String, seq: Int64) -> IncomingChange {
        change(id, hub: "33", seq: seq, title: "Replikasi \(id)") { $0.replicates = target }
    }

    @Test("counts: an exact total and the spread of the matches, a lower bound past the limit")
    func countsAndFacets() throws {
        let s = try store([
            change("a", hub: "35", seq: 1, title: "Antrian Puskesmas") { $0.launchedOn = "2021-03-12"; $0.category = .kesehatan },
            change("b", hub: "35", seq: 2, title: "Antrian Samsat") { $0.launchedOn = "2022-01-01"; $0.category = .pendidikan },
            change("c", hub: "73", seq: 1, title: "Antrian Dukcapil") { $0.launchedOn = "2022-05-01"; $0.category = .kesehatan },
            change("d", hub: "73", seq: 2, title: "Bank Sampah"),
        ])
        let page = try s.search(CatalogueQuery(text: "antrian", limit: 1).validated(), counts: true)
        let counts = try #require(page.counts)
        #expect(counts.total == 3 && counts.exact)
        #expect(counts.byProvince == ["35": 2, "73": 1])
        #expect(counts.byCategory == ["kesehatan": 2, "pendidikan": 1])
        #expect(counts.byYear == ["2021": 1, "2022": 2])
        #expect(counts.byStage.values.reduce(0, +) == 3 && counts.byKind.values.reduce(0, +) == 3)
        #expect(try s.search(CatalogueQuery(text: "antrian").validated()).counts == nil)
        // Filters narrow the counts as they narrow the hits.
        #expect(try s.search(CatalogueQuery(text: "antrian", province: "73").validated(), counts: true).counts?.total == 1)
        let capped = try s.counts(CatalogueQuery(text: "antrian").validated(), rewrite: SearchRewrite(), limit: 2)
        #expect(capped.total == 2 && !capped.exact)
        // A corrected search is counted as it was searched.
        let corrected = try s.search(CatalogueQuery(text: "puskesmaas").validated(), counts: true)
        #expect(corrected.corrections.map(\.word) == ["puskesmaas"] && corrected.counts?.total == 1)
    }

    @Test("snippets mark the words matched, by stem too, around the first match")
    func snippets() throws {
        let long = (1...40).map { "kata\($0)" }.joined(separator: " ") + " pelayanan perizinan <b>usaha</b> mikro."
        let s = try store([
            change("izin", seq: 1, title: "Perizinan Terpadu", summary: long) { $0.benefits = nil },
            change("judul", seq: 2, title: "Izin Usaha Online", summary: "Tanpa kata yang dicari di sini.") { $0.benefits = nil },
        ])
        let hits = try s.search(CatalogueQuery(text: "izin usaha").validated()).hits
        let izin = try #require(hits.first { $0.entry.globalID == "35:izin" }?.snippet)
        #expect(izin.filter(\.match).map(\.text) == ["perizinan", "usaha"])
        #expect(izin.first?.text.hasPrefix("… ") == true)
        #expect(izin.map(\.text).joined().contains("<b>"), "text stays as written; the page escapes it")
        // Only the title matched: the summary's opening, nothing marked.
        let judul = try #require(hits.first { $0.entry.globalID == "35:judul" }?.snippet)
        #expect(judul.allSatisfy { !$0.match } && judul.map(\.text).joined() == "Tanpa kata yang dicari di sini.")
        #expect(try s.search(CatalogueQuery().validated()).hits.allSatisfy { $0.snippet == nil })
    }

    @Test("newest and most replicated orders page with their cursors, without gaps or repeats")
    func orders() throws {
        var changes = (1...7).map { n in
            change("r\(n)", seq: Int64(n), title: "Ronda Digital \(n)") { $0.launchedOn = n == 4 ? nil : "202\(n)-01-0\(n)" }
        }
        changes += [replicating("x1", "35:r2", seq: 1), replicating("x2", "35:r2", seq: 2), replicating("x3", "35:r5", seq: 3)]
        let s = try store(changes)
        func all(_ sort: SearchSort, text: String = "ronda") throws -> [String] {
            var query = try CatalogueQuery(text: text, limit: 2, sort: sort).validated()
            var found: [String] = []
            while true {
                let page = try s.search(query)
                found += page.hits.map(\.entry.globalID)
                guard let next = page.next else { return found }
                query.after = try #require(SearchCursor(token: next.token))
                query = try query.validated()
            }
        }
        #expect(try all(.newest) == ["35:r7", "35:r6", "35:r5", "35:r3", "35:r2", "35:r1", "35:r4"])
        let replicated = try all(.replicated)
        #expect(replicated.prefix(2) == ["35:r2", "35:r5"] && replicated.count == 7)
        // Without words too: the whole catalogue in that order.
        #expect(try all(.replicated, text: "").prefix(2) == ["35:r2", "35:r5"])
        // A cursor pages only its own order.
        let newest = try s.search(CatalogueQuery(text: "ronda", limit: 2, sort: .newest).validated())
        #expect(throws: CatalogueQuery.Invalid.self) {
            try CatalogueQuery(text: "ronda", after: newest.next, sort: .relevance).validated()
        }
    }

    @Test("numbered pages: offsets within the first thousand results, never with a cursor")
    func numberedPages() throws {
        let s = try store((1...5).map { change("p\($0)", seq: Int64($0), title: "Posyandu \($0)") })
        let first = try s.search(CatalogueQuery(limit: 2, page: 1).validated()).hits.map(\.entry.globalID)
        let third = try s.search(CatalogueQuery(limit: 2, page: 3).validated()).hits.map(\.entry.globalID)
        #expect(first == ["35:p1", "35:p2"] && third == ["35:p5"])
        #expect(throws: CatalogueQuery.Invalid.self) { try CatalogueQuery(page: 0).validated() }
        #expect(throws: CatalogueQuery.Invalid.self) { try CatalogueQuery(limit: 10, page: 101).validated() }
        #expect(throws: CatalogueQuery.Invalid.self) {
            try CatalogueQuery(after: SearchCursor(rank: nil, globalID: "35:p1"), page: 2).validated()
        }
        #expect(try CatalogueQuery(limit: 10, page: 100).validated().page == 100)
    }
}

extension CatalogueSearchTests {
    @Test("cached results last until the next commit, whatever it changed")
    func cachedUntilCommit() throws {
        let s = try store([change("a", seq: 1, title: "Posyandu Balita") { $0.contact = "lama@example.id" }])
        let cache = CachedSearch(store: s)
        let query = try CatalogueQuery(text: "posyandu").validated()
        #expect(try cache.search(query).hits.map(\.entry.innovation.contact) == ["lama@example.id"])
        let version = try s.searchVersion()
        #expect(try cache.search(query) == s.search(query) && s.searchVersion() == version)
        // A new revision that changes no searched word still shows at once.
        _ = try s.apply([change("a", revision: 2, seq: 2, title: "Posyandu Balita") { $0.contact = "baru@example.id" }])
        #expect(try s.searchVersion() > version)
        #expect(try cache.search(query).hits.map(\.entry.innovation.contact) == ["baru@example.id"])
        _ = try s.apply([change("b", seq: 3, title: "Posyandu Lansia")])
        #expect(try cache.search(query, counts: true).counts?.total == 2)
    }
}

extension CatalogueSearchTests {
    @Test("the word being typed is completed to the index's words once they are read; a whole word is not a prefix")
    func lastWordCompletions() throws {
        let changes = [
            change("a", seq: 1, title: "Antrian Puskesmas Online"),
            change("b", seq: 2, title: "Puskesmas Keliling"),
            change("c", seq: 3, title: "Data Terpadu"),
            change("d", seq: 4, title: "Database Kependudukan"),
        ]
        let s = try store(changes)
        // Before the vocabulary is read (the first ask only starts a read in the background): a word of the
        // index as typed is whole, another a prefix. One store each: after the first ask the read may be done.
        let fresh = try store(changes)
        #expect(try fresh.lastWordMatch(SearchTerms.parse("data"), SearchRewrite()) == .complete)
        #expect(try s.lastWordMatch(SearchTerms.parse("datab"), SearchRewrite()) == .prefix)
        _ = try s.vocabularyTerms(wait: true)
        let typing = try s.expression(SearchTerms.parse("antrian puskes"), SearchRewrite())
        #expect(typing.required?.contains(#""puskes" OR "puskesmas""#) == true, "\(typing.required ?? "")")
        #expect(typing.required?.contains(#""puskes"*"#) == false)
        #expect(try ids(s, CatalogueQuery(text: "antrian puskes")) == ["35:a"])
        // A word of the index still completes: "data" may be the start of "database".
        #expect(try s.lastWordMatch(SearchTerms.parse("data"), SearchRewrite()) == .completions(["database"]))
        #expect(Set(try ids(s, CatalogueQuery(text: "data"))) == ["35:c", "35:d"])
        #expect(try ids(s, CatalogueQuery(text: "datab")) == ["35:d"])
        #expect(SearchVocabulary.completions(of: "pus", in: try #require(try s.vocabularyTerms(wait: false)), limit: 1) == ["puskesmas"])
    }
}

extension CatalogueSearchTests {
    @Test("filters are index terms no text can spell: a summary saying p35 is not in province 35")
    func filterTermsAreNotWords() throws {
        let s = try store([
            change("jatim", hub: "35", seq: 1, title: "Antrian Jatim"),
            change("jateng", hub: "33", seq: 1, title: "Antrian Jateng", summary: "kode p35 w0 ckesehatan"),
        ])
        #expect(try ids(s, CatalogueQuery(text: "antrian", province: "35")) == ["35:jatim"])
        #expect(try ids(s, CatalogueQuery(text: "p35")) == ["33:jateng"])
        _ = try s.apply([change("jatim", hub: "35", revision: 2, seq: 2, title: "Antrian Jatim", event: .withdraw)])
        #expect(try ids(s, CatalogueQuery(text: "antrian", province: "35")).isEmpty)
        #expect(try ids(s, CatalogueQuery(text: "antrian", province: "35", withdrawn: .only)) == ["35:jatim"])
    }
}

extension CatalogueSearchTests {
    @Test("a cursor carries how the last word matched: the next page matches as the first did")
    func cursorCarriesLastWord() throws {
        let s = try store((1...6).map { change("k\($0)", seq: Int64($0), title: "Kartu Keluarga \($0)") })
        var query = try CatalogueQuery(text: "kartu kel", limit: 2).validated()
        let first = try s.search(query)
        let rewrite = try #require(first.next?.rewrite)
        #expect(rewrite.lastWord == .prefix, "the vocabulary was not read yet")
        let token = try #require(first.next?.token)
        #expect(SearchCursor(token: token)?.rewrite == rewrite)
        // The vocabulary arrives between pages; the rest of the search still matches "kel" as a prefix.
        _ = try s.vocabularyTerms(wait: true)
        var seen = first.hits.map(\.entry.globalID)
        query.after = SearchCursor(token: token)
        while query.after != nil {
            let page = try s.search(query.validated())
            #expect(page.next == nil || page.next?.rewrite?.lastWord == .prefix)
            seen += page.hits.map(\.entry.globalID)
            query.after = page.next
        }
        #expect(seen.count == 6 && Set(seen).count == 6)
        #expect(SearchCursor(token: SearchCursor(rank: -1, globalID: "35:a", rewrite: SearchRewrite(lastWord: .completions(["kelola", "keluarga"]))).token)?
            .rewrite?.lastWord == .completions(["kelola", "keluarga"]))
    }

    @Test("an updated region ending in 0 leaves no term behind; text cannot spell a filter term")
    func filterTermsFollowUpdates() throws {
        let s = try store([change("r", seq: 1, title: "Antrian Kota") { $0.region = "35.10" }])
        #expect(try ids(s, CatalogueQuery(text: "antrian", region: "35.10")) == ["35:r"])
        _ = try s.apply([change("r", revision: 2, seq: 2, title: "Antrian Kota") { $0.region = "35.11" }])
        #expect(try ids(s, CatalogueQuery(text: "antrian", region: "35.10")).isEmpty)
        #expect(try ids(s, CatalogueQuery(text: "antrian", region: "35.11")) == ["35:r"])
        #expect(try s.searchIndexIsConsistent())
        _ = try s.apply([change("forged", hub: "33", seq: 1, title: "Antrian Palsu", summary: "\u{E000}p35 \u{E000}w1")])
        #expect(try ids(s, CatalogueQuery(text: "antrian", province: "35")) == ["35:r"])
        #expect(try ids(s, CatalogueQuery(text: "antrian", province: "33")) == ["33:forged"])
    }

    @Test("a page number too large for any page is refused, never an overflow")
    func hugePageNumbers() {
        for page in [Int.max, Int.max / 2, 999_999_999_999_999_999] {
            #expect(throws: CatalogueQuery.Invalid.self) { try CatalogueQuery(limit: 100, page: page).validated() }
        }
    }
}
