import Foundation
import JippnasCore
import JippnasOps
import JippnasStore

/// A small real federation for the catalogue's HTTP tests: the `jippnas` binary as three hub daemons
/// (35, 33, 73 with the seed files, which replicate one another) and the aggregator with its HTTP
/// listener, all on the test broker, until every seed record is in the catalogue.
public final class RunningSite: @unchecked Sendable {
    public let dir: TempDir
    public let port: Int
    public let catalogue: String
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    private var children: [ChildProcess] = []

    /// Titles hub 35 publishes beyond the seeds: markup a page must show as text.
    public static let hostileTitle = "<script>alert('x')</script> Layanan <b>Tebal</b> & \"Kutip\""
    public static let hostileID = "sby-markup-test"

    public struct NotReady: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameter environment: extra settings for the aggregator (`JIPPNAS_HTTP_CORS_ALLOW_ORIGIN`...).
    public init(label: String, brokerURL: String, environment: [String: String] = [:]) async throws {
        dir = TempDir(label)
        catalogue = dir.file("catalogue.sqlite")
        let binary = try ChildProcess.jippnasBinary()
        let seeds = ["35": "35-jawa-timur.csv", "33": "33-jawa-tengah.json", "73": "73-sulawesi-selatan.ndjson"]
        var expected = 0
        for (province, file) in seeds.sorted(by: { $0.key < $1.key }) {
            let database = dir.file("hub-\(province).sqlite")
            try Self.importFile(binary, province, database, repositoryRoot + "/seeds/hubs/" + file)
            if province == "35" {
                let extra = dir.file("extra.ndjson")
                let record: [String: String] = [
                    "id": Self.hostileID, "title": Self.hostileTitle, "agency": "Dinas Uji <i>Markup</i>", "region": "35.78",
                    "category": "kesehatan", "kind": "digital", "stage": "uji_coba", "launched_on": "2024-02-01",
                    "summary": "Antrian online puskesmas untuk uji tampilan.", "url": "https://antrian.example.go.id/?a=1&b=2",
                ]
                try (String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self) + "\n")
                    .write(toFile: extra, atomically: true, encoding: .utf8)
                try Self.importFile(binary, province, database, extra)
            }
            expected += try HubStore(path: database, province: province, access: .readOnly).records().count
            children.append(try ChildProcess([binary, "hub", "run", "--province", province, "--database", database],
                                             environment: ["JIPPNAS_BROKER_URLS": brokerURL], outputPath: dir.file("hub-\(province).log")))
        }
        // Picked just before the aggregator binds it: the fewer connections in between, the fewer chances
        // that another process takes it.
        port = try freePort()
        var aggregatorEnvironment = ["JIPPNAS_BROKER_URLS": brokerURL, "JIPPNAS_HTTP_LISTEN": "127.0.0.1:\(port)"]
        aggregatorEnvironment.merge(environment) { _, new in new }
        children.append(try ChildProcess([binary, "aggregator", "run", "--database", catalogue],
                                         environment: aggregatorEnvironment, outputPath: dir.file("aggregator.log")))
        let path = catalogue
        let arrived = await eventually(timeout: .seconds(60)) {
            (try? CatalogueStore(path: path, access: .readOnly).innovationCount()) == expected
        }
        guard arrived else {
            await stop()
            throw NotReady(description: "the catalogue did not reach \(expected) records; aggregator log:\n"
                           + ((try? String(contentsOfFile: dir.file("aggregator.log"), encoding: .utf8)) ?? ""))
        }
    }

    private static func importFile(_ binary: String, _ province: String, _ database: String, _ file: String) throws {
        let result = Subprocess.run([binary, "hub", "import", "--province", province, "--database", database, file])
        guard result.status == 0 else { throw NotReady(description: "import \(file): \(result.output)") }
    }

    /// Stops every daemon: SIGTERM, then SIGKILL for any still running after 15 s.
    public func stop() async {
        for child in children { child.signal(SIGTERM) }
        for child in children { _ = await child.wait(timeout: .seconds(15)) }
        children.removeAll()
    }
}
