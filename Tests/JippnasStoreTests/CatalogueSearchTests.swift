import Foundation
import JippnasCore
@testable import JippnasStore
import JippnasText
import JippnasTestSupport
import Synchronization
import Testing

@Suite("Catalogue search")
struct CatalogueSearchTests {
    let dir = TempDir("search")

    /// A change for `hub`'s innovation `id` with the given text fields, the rest from ``SampleData``.
    func change(_ id: String, hub: String = "35", revision: Int64 = 1, seq: Int64, title: String,
                summary: String? = nil, agency: String = "Dinas Kesehatan", event: ChangeEvent = .upsert,
                edit: (inout InnovationContent) -> Void = { _ in }) -> IncomingChange
    {
        var content = SampleData.contents(province: hub, count: 1)[0]
        content.id = id
        content.title = title
        content.summary = summary
        content.agency = agency
        edit(&content)
        let envelope = Envelope(hub: hub, seq: seq, event: event, sentAt: Timestamp.now(),
                                innovation: content.innovation(revision: revision, updatedAt: Timestamp.now()))
        return IncomingChange(envelope: envelope, messageID: UUID().uuidString, routingKey: envelope.routingKey,
                              body: EnvelopeCodec.encode(envelope))
    }

    func store(_ changes: [IncomingChange]) throws -> CatalogueStore {
        let s = try CatalogueStore(path: dir.file("c-\(UUID().uuidString).sqlite"))
        _ = try s.apply(changes)
        return s
    }

    func ids(_ s: CatalogueStore, _ q: CatalogueQuery) throws -> [String] {
        try s.search(q.validated()).hits.map(\.entry.globalID)
    }

    @Test("a word in the title ranks above the same word in the summary; accents and case are folded")
    func ranking() throws {
        let s = try store([
            change("in-summary", seq: 1, title: "Layanan Terpadu", summary: "Pendaftaran antrian online di puskesmas."),
            change("in-title", seq: 2, title: "Antrian Online Puskesmas", summary: "Pendaftaran pasien."),
            change("unrelated", seq: 3, title: "Bank Sampah Digital", summary: "Tabungan sampah warga."),
            change("accented", seq: 4, title: "Antrían Ónline Kecamatan"),
        ])
        let found = try ids(s, CatalogueQuery(text: "antrian online"))
        #expect(found.count == 3)
        #expect(found.last == "35:in-summary")
        #expect(Set(found.prefix(2)) == ["35:in-title", "35:accented"])
        #expect(try ids(s, CatalogueQuery(text: "ANTRIAN")).count == 3)
        // Prefix search: part of a word finds it.
        #expect(try ids(s, CatalogueQuery(text: "puskes")) == ["35:in-title", "35:in-summary"])
    }

    @Test("every filter narrows the results, and filters combine")
    func filters() throws {
        let s = try store([
            change("a", hub: "35", seq: 1, title: "Antrian A") {
                $0.region = "35.78"; $0.category = .kesehatan; $0.kind = .digital; $0.stage = .penerapan
                $0.status = .active; $0.launchedOn = "2019-03-01"
            },
            change("b", hub: "35", seq: 2, title: "Antrian B") {
                $0.region = "35.15"; $0.category = .pendidikan; $0.kind = .nonDigital; $0.stage = .ujiCoba
                $0.status = .dormant; $0.launchedOn = "2021-12-31"
            },
            change("c", hub: "33", seq: 1, title: "Antrian C") {
                $0.region = "33.74"; $0.category = .kesehatan; $0.kind = .digital; $0.stage = .penerapan
                $0.launchedOn = "2020-01-01"; $0.replicates = "35:a"
            },
            change("d", hub: "33", seq: 2, title: "Antrian D") {
                $0.region = "33.74"; $0.replicates = "35:a"; $0.category = .lingkunganHidup; $0.launchedOn = nil
            },
            change("e", hub: "33", seq: 3, title: "Antrian E", event: .withdraw),
        ])
        #expect(try ids(s, CatalogueQuery(text: "antrian")).count == 4)
        #expect(try ids(s, CatalogueQuery(text: "antrian", province: "33")) == ["33:c", "33:d"])
        #expect(try ids(s, CatalogueQuery(region: "35.78")) == ["35:a"])
        #expect(try ids(s, CatalogueQuery(category: .pendidikan)) == ["35:b"])
        #expect(try ids(s, CatalogueQuery(text: "antrian", kind: .nonDigital)).sorted() == ["33:d", "35:b"])
        #expect(try ids(s, CatalogueQuery(stage: .ujiCoba)).contains("35:b"))
        #expect(try !ids(s, CatalogueQuery(stage: .ujiCoba)).contains("35:a"))
        #expect(try ids(s, CatalogueQuery(launchedFrom: 2019, launchedTo: 9999)).sorted() == ["33:c", "35:a", "35:b"])
        #expect(try ids(s, CatalogueQuery(status: .dormant)) == ["35:b"])
        #expect(try ids(s, CatalogueQuery(launchedFrom: 2020, launchedTo: 2020)) == ["33:c"])
        #expect(try ids(s, CatalogueQuery(launchedFrom: 2020)).sorted() == ["33:c", "35:b"])
        #expect(try ids(s, CatalogueQuery(launchedTo: 2019)) == ["35:a"])
        #expect(try ids(s, CatalogueQuery(replicates: "35:a")) == ["33:c", "33:d"])
        #expect(try ids(s, CatalogueQuery(replicatedBy: "33:c")) == ["35:a"])
        #expect(try ids(s, CatalogueQuery(withdrawn: .only)) == ["33:e"])
        #expect(try ids(s, CatalogueQuery(text: "antrian", withdrawn: .include)).count == 5)
        #expect(try ids(s, CatalogueQuery(text: "antrian", province: "33", category: .kesehatan, launchedFrom: 2020)) == ["33:c"])
    }

    @Test("cursor pages cover every result once, in rank order, for text and for a plain listing")
    func pagination() throws {
        // Equal titles give equal ranks: the global id breaks the tie.
        let changes = (1...23).map { n in
            change(String(format: "p%02d", n), seq: Int64(n), title: n % 3 == 0 ? "Sistem Antrian Antrian" : "Sistem Antrian")
        }
        let s = try store(changes)
        for text in ["antrian", ""] {
            var seen: [String] = []
            var ranks: [Double] = []
            var query = CatalogueQuery(text: text, limit: 5)
            var pages = 0
            repeat {
                let page = try s.search(query.validated())
                seen += page.hits.map(\.entry.globalID)
                ranks += page.hits.compactMap(\.rank)
                query.after = page.next.flatMap { SearchCursor(token: $0.token) }
                pages += 1
                #expect(page.hits.count <= 5)
                if page.next != nil { #expect(page.hits.count == 5) }
            } while query.after != nil && pages < 10
            #expect(pages == 5)
            #expect(seen.count == 23 && Set(seen).count == 23)
            if text.isEmpty { #expect(seen == seen.sorted()) } else { #expect(ranks == ranks.sorted() && ranks.count == 23) }
        }
    }

    @Test("hostile query text is searched as plain words: never an error, never an injection")
    func hostileQueries() throws {
        let s = try store([
            change("near", seq: 1, title: "Program NEAR Desa"),
            change("quote", seq: 2, title: "Layanan \"Satu Pintu\" <b>Kota</b>"),
            change("other", seq: 3, title: "Bank Sampah"),
        ])
        let hostile = [
            "\"", "\"\"", "'", "NEAR(", "near(satu pintu", "NEAR(a b, 2)", "satu\" OR \"sampah", "* ", "^satu", "title:bank",
            "{title agency}: bank", "a AND", "OR", "NOT bank", "bank) OR (1=1", "'; DROP TABLE innovation; --", "\u{0}",
            "-", "+bank", "bank*", "💡 inovasi", String(repeating: "x", count: 400), "((((", "\\", "%", "_",
        ]
        for text in hostile {
            // Plain words: the text's own words decide, never its syntax.
            let parsed = SearchTerms.parse(text)
            let result = try s.search(CatalogueQuery(text: text).validated())
            let words = Set(parsed.words + parsed.phrases.joined()).subtracting(result.leftOut)
            #expect(result.hits.allSatisfy { hit in
                words.allSatisfy { word in hit.entry.innovation.title.lowercased().contains(word.prefix(3)) }
            }, "query \(text)")
        }
        #expect(try ids(s, CatalogueQuery(text: "NEAR(")) == ["35:near"])
        #expect(try ids(s, CatalogueQuery(text: "\"satu pintu")) == ["35:quote"])
        // Not an OR: no record holds satu, or and sampah, nor two of them.
        #expect(try ids(s, CatalogueQuery(text: "satu\" OR \"sampah")).isEmpty)
        #expect(try ids(s, CatalogueQuery(text: "'; DROP TABLE innovation; --")).isEmpty)
        #expect(try s.innovationCount() == 3)
        #expect(throws: CatalogueQuery.Invalid.self) { try CatalogueQuery(text: String(repeating: "a ", count: 300)).validated() }
    }

    @Test("the index follows updates and withdrawals in the applying transaction")
    func indexFollowsChanges() throws {
        let s = try store([change("a", seq: 1, title: "Antrian Lama")])
        _ = try s.apply([change("a", revision: 2, seq: 2, title: "Pelayanan Baru")])
        #expect(try ids(s, CatalogueQuery(text: "antrian")).isEmpty)
        #expect(try ids(s, CatalogueQuery(text: "pelayanan baru")) == ["35:a"])
        _ = try s.apply([change("a", revision: 3, seq: 3, title: "Pelayanan Baru", event: .withdraw)])
        #expect(try ids(s, CatalogueQuery(text: "pelayanan")).isEmpty)
        #expect(try ids(s, CatalogueQuery(text: "pelayanan", withdrawn: .only)) == ["35:a"])
        #expect(try s.searchIndexIsConsistent())
    }

    @Test("a catalogue made before search gets its index built by the migration")
    func migrationBuildsIndex() throws {
        let path = dir.file("old.sqlite")
        do {
            let s = try CatalogueStore(path: path)
            _ = try s.apply((1...50).map { change("m\($0)", seq: Int64($0), title: "Inovasi Lama \($0)") })
            // Take the store back to before catalogue-v4-search.
            try s.pool.write { db in
                try db.execute(sql: """
                    DROP TRIGGER innovation_search_insert; DROP TRIGGER innovation_search_delete;
                    DROP TRIGGER innovation_search_update; DROP TABLE search_pending; DROP TABLE search_meta;
                    DROP VIEW innovation_search_doc; DROP TABLE innovation_fts_vocab; DROP TABLE innovation_fts;
                    DROP INDEX innovation_replicates; DROP INDEX innovation_region;
                    DELETE FROM grdb_migrations WHERE identifier IN ('catalogue-v4-search', 'catalogue-v9-search-stems', 'catalogue-v10-search-filters');
                    """)
            }
        }
        #expect(throws: StoreError.self) { try CatalogueStore(path: path, access: .readOnly) }
        // Rebuilding the index is the owner's job: another writer is refused.
        #expect(throws: StoreError.self) { try CatalogueStore(path: path) }
        let notes = Mutex<[String]>([])
        let migrated = try CatalogueStore(path: path, searchIndex: .rebuildIfStale) { note in notes.withLock { $0.append(note) } }
        #expect(notes.withLock { $0 }.contains { $0.contains("catalogue-v10-search-filters") })
        #expect(try ids(migrated, CatalogueQuery(text: "inovasi lama", limit: 100)).count == 50)
        #expect(try migrated.searchIndexIsConsistent())
    }

    @Test("detail carries history and replications both ways; facets count live innovations")
    func detailAndFacets() throws {
        let s = try store([
            change("origin", hub: "35", seq: 1, title: "Asal") { $0.launchedOn = "2018-01-01" },
            change("copy1", hub: "33", seq: 1, title: "Salinan Satu") { $0.replicates = "35:origin"; $0.launchedOn = "2020-01-01" },
            change("copy2", hub: "73", seq: 1, title: "Salinan Dua") { $0.replicates = "35:origin"; $0.launchedOn = "2020-06-01" },
        ])
        let origin = try #require(try s.detail(globalID: "35:origin"))
        #expect(origin.replicatedBy.map(\.globalID) == ["33:copy1", "73:copy2"])
        #expect(origin.replicates == nil && origin.history.count == 1)
        let copy = try #require(try s.detail(globalID: "33:copy1"))
        #expect(copy.replicates?.globalID == "35:origin" && copy.replicates?.title == "Asal")
        #expect(try s.detail(globalID: "35:none") == nil)
        let facets = try s.facets()
        #expect(facets.live == 3 && facets.byProvince == ["35": 1, "33": 1, "73": 1])
        #expect(facets.byYear == ["2018": 1, "2020": 2])
        #expect(facets.mostReplicated.first?.innovation.globalID == "35:origin" && facets.mostReplicated.first?.replications == 2)
    }

    @Test("export walks every record once in global-id order, in chunks")
    func export() throws {
        let s = try store((1...2503).map { change(String(format: "e%05d", $0), seq: Int64($0), title: "Ekspor \($0)") })
        var seen: [String] = []
        try s.forEachEntry { seen.append($0.globalID); return true }
        #expect(seen.count == 2503 && seen == seen.sorted() && Set(seen).count == 2503)
        #expect(try s.count(includeWithdrawn: true) == 2503)
    }
}

@Suite("Search text and cursors")
struct SearchTextTests {
    @Test("words, phrases and exclusions are read as a person means them; nothing else is syntax")
    func termsAreWordsOnly() {
        #expect(SearchTerms.parse("Antrian  \"online\" NEAR(puskesmas, 2)")
            == SearchTerms(words: ["antrian", "online", "near", "puskesmas", "2"]))
        #expect(SearchTerms.parse("akta kelahiran -daring") == SearchTerms(words: ["akta", "kelahiran"], excluded: ["daring"]))
        #expect(SearchTerms.parse("\"satu pintu\" -\"x\" e-ktp") == SearchTerms(words: ["x", "e", "ktp"], phrases: [["satu", "pintu"]]))
        #expect(SearchTerms.parse("\"bank sampah").phrases == [["bank", "sampah"]], "an unclosed quote runs to the end")
        #expect(SearchTerms.parse("\" * ( ) : ^ - --").isEmpty)
        #expect(SearchTerms.parse("café").words == ["cafe"])
        #expect(SearchTerms.parse("kekerasan terhadap perempuan").words == ["kekerasan", "perempuan"], "stopwords are not required")
        #expect(SearchTerms.parse("di dan").words == ["di", "dan"], "unless nothing else is typed")
        #expect(SearchTerms.parse("\"pajak bumi dan bangunan\"").phrases == [["pajak", "bumi", "dan", "bangunan"]])
        let many = SearchTerms.parse(String(repeating: "kata ", count: 5) + (1...20).map { "w\($0)" }.joined(separator: " "))
        #expect(many.words.count == SearchText.maximumTerms)
    }

    @Test("the MATCH expression quotes every word, adds its stems, and leaves out what is excluded")
    func matchExpressions() {
        let stemmer = IndonesianStemmer.shared
        let plain = SearchExpression(SearchTerms.parse("perizinan di ab"), stemmer: stemmer)
        #expect(plain.match == "({title agency summary benefits} : \"perizinan\" OR {title_stems text_stems} : (\"izin\"))"
            + " AND ({title agency summary benefits} : \"ab\" OR {title_stems text_stems} : (\"ab\"))", "di is a stopword")
        // Only the last word, the one perhaps still being typed, matches its completions.
        let typing = SearchExpression(SearchTerms.parse("izin perizin"), stemmer: stemmer)
        #expect(typing.match?.hasPrefix("({title agency summary benefits} : \"izin\" OR") == true)
        #expect(typing.match?.contains("{title agency summary benefits} : \"perizin\"* OR") == true)
        let excluding = SearchExpression(SearchTerms.parse("akta -daring"), stemmer: stemmer)
        #expect(excluding.match?.hasSuffix(" NOT (({title agency summary benefits} : \"daring\" OR {title_stems text_stems} : (\"daring\")))") == true)
        let onlyExcluded = SearchExpression(SearchTerms.parse("-daring"), stemmer: stemmer)
        #expect(onlyExcluded.match == nil && onlyExcluded.excluded != nil)
        #expect(SearchExpression(SearchTerms.parse("\"satu pintu\""), stemmer: stemmer).match
            == "{title agency summary benefits} : \"satu pintu\"")
    }

    @Test func cursorsRoundTripAndRefuseForgeries() {
        let rewrite = SearchRewrite(corrections: ["puskesmaas": ["puskesmas", "puskesmos"]], leftOut: ["kota"])
        for cursor in [SearchCursor(rank: -3.14159265358979, globalID: "35:a-b"), SearchCursor(rank: nil, globalID: "11:x"),
                       SearchCursor(rank: -1, globalID: "35:c", rewrite: rewrite)] {
            #expect(SearchCursor(token: cursor.token) == cursor)
        }
        func forged(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        for token in ["", "!!", "bm90IGEgY3Vyc29y", SearchCursor(rank: 1, globalID: "99:x").token,
                      forged("-:35:a\nl=\" OR x"), forged("-:35:a\nc=word>"), forged("-:35:a\nl=a;l=b"), forged("-:35:a\n")] {
            #expect(SearchCursor(token: token) == nil, "\(token)")
        }
    }

    @Test func validationNamesTheParameter() throws {
        #expect(throws: CatalogueQuery.Invalid(parameter: "province", reason: "'3' is not a province code (two digits, for example 35)")) {
            try CatalogueQuery(province: "3").validated()
        }
        #expect(throws: CatalogueQuery.Invalid.self) { try CatalogueQuery(launchedFrom: 2021, launchedTo: 2020).validated() }
        #expect(throws: CatalogueQuery.Invalid.self) { try CatalogueQuery(replicates: "x").validated() }
        #expect(try CatalogueQuery(limit: 5000).validated().limit == CatalogueQuery.maximumLimit)
        #expect(try CatalogueQuery(limit: 0).validated().limit == 1)
        // A listing's cursor cannot page a text search, nor the other way round.
        #expect(throws: CatalogueQuery.Invalid.self) {
            try CatalogueQuery(text: "antrian", after: SearchCursor(rank: nil, globalID: "35:a")).validated()
        }
        #expect(throws: CatalogueQuery.Invalid.self) { try CatalogueQuery(after: SearchCursor(rank: -1, globalID: "35:a")).validated() }
    }
}

@Suite("Search parameters from a URL")
struct SearchParameterTests {
    @Test func parsesEveryParameter() throws {
        let cursor = SearchCursor(rank: -1.5, globalID: "35:a")
        let q = try CatalogueQuery(parameters: [
            "q": "antrian", "province": "35", "region": "35.78", "category": "kesehatan", "kind": "digital",
            "stage": "penerapan", "status": "active", "withdrawn": "include", "launched_from": "2019", "launched_to": "2021",
            "replicates": "33:x", "replicated_by": "73:y", "limit": "500", "cursor": cursor.token, "unknown": "ignored",
        ])
        #expect(q == CatalogueQuery(text: "antrian", province: "35", region: "35.78", category: .kesehatan, kind: .digital,
                                    stage: .penerapan, status: .active, withdrawn: .include, launchedFrom: 2019,
                                    launchedTo: 2021, replicates: "33:x", replicatedBy: "73:y", limit: 100, after: cursor))
        #expect(try CatalogueQuery(parameters: ["province": "", "category": ""]) == CatalogueQuery())
    }

    @Test func namesTheBadParameter() {
        for (name, value) in [("category", "kesehatann"), ("limit", "ten"), ("cursor", "xyz"), ("launched_to", "20x"),
                              ("province", "99"), ("withdrawn", "yes")] {
            #expect(throws: CatalogueQuery.Invalid.self) { try CatalogueQuery(parameters: [name: value]) }
            do { _ = try CatalogueQuery(parameters: [name: value]) } catch { #expect(error.parameter == name) }
        }
    }
}

@Suite("Export formats")
struct ExportFormatTests {
    @Test("cells a spreadsheet would run are neutralised; quotes, commas and newlines are quoted")
    func csvCells() {
        for formula in ["=HYPERLINK(\"http://x\")", "+62 812", "-1", "@SUM(A1)", "\tx", "\rx"] {
            #expect(CatalogueExport.csvCell(formula).hasPrefix("'") || CatalogueExport.csvCell(formula).hasPrefix("\"'"),
                    "\(formula)")
        }
        #expect(CatalogueExport.csvCell("Layanan biasa") == "Layanan biasa")
        #expect(CatalogueExport.csvCell("a,b") == "\"a,b\"")
        #expect(CatalogueExport.csvCell("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CatalogueExport.csvCell("=1+1,2") == "\"'=1+1,2\"")
        #expect(CatalogueExport.csvCell("baris\nbaru") == "\"baris\nbaru\"")
        #expect(CatalogueExport.csvLine(["a", "=b"]) == "a,'=b\n")
    }

    @Test("DCAT describes the catalogue as a dataset with its distributions")
    func dcat() throws {
        let facets = CatalogueFacets(live: 3, withdrawn: 1, byProvince: ["35": 3], byCategory: [:], byStage: [:], byKind: [:],
                                     byYear: ["2019": 1, "2023": 2], mostReplicated: [], lastChangeAt: "2026-11-30T00:00:00.000Z")
        let data = try CatalogueExport.dcat(facets: facets, modified: facets.lastChangeAt, baseURL: "https://katalog.example/")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let graph = try #require(json["@graph"] as? [[String: Any]])
        let dataset = try #require(graph.first { $0["@type"] as? String == "dcat:Dataset" })
        let distributions = try #require(dataset["dcat:distribution"] as? [[String: Any]])
        #expect(distributions.count == 3)
        #expect(distributions.contains { ($0["dcat:downloadURL"] as? [String: String])?["@id"] == "https://katalog.example/api/v1/export.csv" })
        #expect((dataset["dct:temporal"] as? [String: Any])?["dcat:startDate"] as? String == "2019")
        #expect(dataset["jippnas:liveInnovations"] as? Int == 3)
    }
}
