import Foundation
import JippnasCore
import Testing

@Suite("Import parsing")
struct ImportTests {
    func parse(_ text: String, _ format: ImportFormat, province: String = "35") throws -> ImportParse {
        try ImportParser.parse(Data(text.utf8), format: format, province: province, fileName: "test")
    }

    @Test func csvWithIndonesianHeadersAndHumanValues() throws {
        let csv = """
            kode_inovasi,nama_inovasi,instansi,kode_wilayah,kategori,jenis,tahapan,inisiator,status
            a-1,Sapa Warga,Diskominfo Surabaya,35.78,Tata Kelola Pemerintahan,Non Digital,Uji Coba,Kepala Daerah,Aktif
            a-2,"Kampung Pangan, Surabaya",DKPP,35.78,pertumbuhan ekonomi dan kesempatan kerja,daring,penerapan,,berhenti
            """
        let result = try parse(csv, .csv)
        #expect(result.issues.isEmpty)
        #expect(result.rows.map(\.content.id) == ["a-1", "a-2"])
        let first = result.rows[0].content
        #expect(first.category == .tataKelolaPemerintahan && first.kind == .nonDigital && first.stage == .ujiCoba)
        #expect(first.initiator == .kepalaDaerah && first.status == .active)
        let second = result.rows[1].content
        #expect(second.title == "Kampung Pangan, Surabaya" && second.kind == .digital && second.status == .dormant)
        #expect(second.category == .pertumbuhanEkonomi && second.initiator == nil)
    }

    @Test func csvReportsEveryBadRowWithItsPlaceAndReason() throws {
        let csv = """
            id,title,agency,region,category,kind,stage
            ok-1,Judul Baik,OPD,35.78,kesehatan,digital,inisiatif
            bad-1,Judul,OPD,33.74,kesehatan,digital,inisiatif
            bad-2,Judul,OPD,35.78,olahraga,digital,inisiatif
            bad-3,,OPD,35.78,kesehatan,digital,inisiatif
            ok-1,Judul Lagi,OPD,35.78,kesehatan,digital,inisiatif
            short,row
            """
        let result = try parse(csv, .csv)
        #expect(result.rows.map(\.content.id) == ["ok-1"])
        #expect(result.issues.map(\.description) == [
            "line 3: region_outside_province",
            "line 4: invalid_field:category",
            "line 5: missing_field:title",
            "line 6: duplicate_id:ok-1 (first at line 2)",
            "line 7: malformed_row: 2 fields, header has 7",
        ])
    }

    @Test func csvLineNumbersFollowQuotedFieldsThatSpanLines() throws {
        let csv = "id,title,agency,region,category,kind,stage,summary\n"
            + "q-1,Judul Satu,OPD,35.78,kesehatan,digital,inisiatif,\"baris satu\nbaris dua\"\n"
            + "q-2,Judul Dua,OPD,99.78,kesehatan,digital,inisiatif,x\n"
        let result = try parse(csv, .csv)
        #expect(result.rows.first?.content.summary == "baris satu\nbaris dua")
        #expect(result.issues.map(\.description) == ["line 4: invalid_field:region"])
    }

    @Test func ndjsonCountsPhysicalLines() throws {
        let ndjson = """
            {"id":"n-1","title":"Satu Dua","agency":"OPD","region":"73.71","category":"kesehatan","kind":"digital","stage":"penerapan"}

            {"id":"n-2","title":"Tiga Empat","agency":"OPD","region":"73.71","category":"kesehatan","kind":"digital","stage":"penerapan","color":"red"}
            not json
            {"id":"n-3","title":12345,"agency":"OPD","region":"73.71","category":"kesehatan","kind":"digital","stage":"penerapan"}
            """
        let result = try parse(ndjson, .ndjson, province: "73")
        try #require(result.rows.map(\.content.id) == ["n-1", "n-3"])
        #expect(result.rows[1].content.title == "12345")
        #expect(result.issues.map(\.description) == ["line 3: unknown_field:color", "line 4: malformed_json"])
    }

    @Test func jsonArrayIgnoresHubAssignedFields() throws {
        let json = """
            [{"id":"j-1","revision":9,"updated_at":"x","title":"Judul Baik","agency":"OPD","region":"33.74",
              "category":"pendidikan","kind":"non_digital","stage":"inisiatif","replicates":"35:a-1"},
             {"id":"j-2","title":true,"agency":"OPD","region":"33.74","category":"pendidikan","kind":"digital","stage":"inisiatif"},
             7]
            """
        let result = try parse(json, .jsonArray, province: "33")
        try #require(result.rows.map(\.content.id) == ["j-1"])
        #expect(result.rows[0].content.replicates == "35:a-1")
        #expect(result.issues.map(\.description) == ["item 2: invalid_field:title", "item 3: malformed_row: not a JSON object"])
    }

    @Test func unreadableFilesThrowWithTheFileName() {
        #expect(throws: ImportFileError.self) { try parse("{\"not\":\"array\"}", .jsonArray) }
        #expect(throws: ImportFileError.self) {
            try ImportParser.parse(Data([0xFF, 0xFE]), format: .csv, province: "35", fileName: "x.csv")
        }
    }

    @Test func formatDetection() {
        #expect(ImportFormat.detect(fileName: "a.CSV", data: Data()) == .csv)
        #expect(ImportFormat.detect(fileName: "a.jsonl", data: Data()) == .ndjson)
        #expect(ImportFormat.detect(fileName: "stdin", data: Data("  [".utf8)) == .jsonArray)
        #expect(ImportFormat.detect(fileName: "stdin", data: Data("{".utf8)) == .ndjson)
    }
}

@Suite("Seeds")
struct SeedTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/seeds"
    }()

    func csvLines(_ name: String) throws -> [[String]] {
        try String(contentsOfFile: Self.root + "/" + name, encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test func provincesMatchTheRegistryAndTheArticlesHubs() throws {
        let rows = try csvLines("provinces.csv")
        #expect(rows.map { $0[0] } == ProvinceRegistry.all.map(\.code))
        #expect(rows.map { $0[1] } == ProvinceRegistry.all.map(\.name))
        let hubs = Set(rows.filter { $0[3] == "yes" }.map { $0[2] })
        #expect(hubs == ["Sumut", "Riau", "Babel", "Sumsel", "Kalbar", "Kalsel", "Gorontalo", "Sulsel", "Maluku", "Banten",
                         "NTT", "Jateng", "Jatim", "Jambi", "Lampung", "Jabar", "DIY", "Kaltim", "NTB", "Malut"])
        #expect(rows.filter { $0[4] == "2023-03-14" }.count == 7)
    }

    @Test func categoriesMatchKIPP2021() throws {
        let rows = try csvLines("categories.csv")
        #expect(rows.map { $0[0] } == Category.allCases.map(\.rawValue))
        #expect(rows.map { $0[1] } == Category.allCases.map(\.indonesianName))
    }

    @Test(arguments: [("35", "35-jawa-timur.csv"), ("33", "33-jawa-tengah.json"), ("73", "73-sulawesi-selatan.ndjson")])
    func sampleHubFilesImportCleanly(province: String, file: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.root + "/hubs/" + file))
        let result = try ImportParser.parse(data, format: .detect(fileName: file, data: data), province: province, fileName: file)
        #expect(result.issues.isEmpty, "\(result.issues)")
        #expect(result.rows.count >= 15)
        #expect(result.rows.contains { $0.content.replicates != nil })
    }
}

@Suite("Provinces CSV for provisioning")
struct ProvinceListTests {
    @Test func seedsNameTwentyHubsAndThirtyEightProvinces() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: SeedTests.root + "/provinces.csv"))
        let hubs = try ProvinceList.codes(csv: data, fileName: "provinces.csv", onlyHubs: true)
        #expect(hubs.count == 20 && hubs.contains("35") && !hubs.contains("11"))
        #expect(try ProvinceList.codes(csv: data, fileName: "provinces.csv", onlyHubs: false) == ProvinceRegistry.all.map(\.code))
    }

    @Test func anUnknownCodeRefusesTheFileNamingItsLine() {
        let csv = Data("code,name,jipp_hub\n35,Jawa Timur,yes\n99,Nowhere,yes\n".utf8)
        #expect(throws: ImportFileError.self) { try ProvinceList.codes(csv: csv, fileName: "p.csv", onlyHubs: true) }
        do {
            _ = try ProvinceList.codes(csv: csv, fileName: "p.csv", onlyHubs: true)
        } catch {
            #expect(error.description.contains("line 3: 99 is not a Kemendagri province code"))
        }
    }
}
