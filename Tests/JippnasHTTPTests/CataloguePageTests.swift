import Foundation
import JippnasOps
import JippnasTestSupport
import Testing

/// The web page in real headless Chromium against a running aggregator (Tests/Browser/catalogue_page.py
/// drives it with Selenium). `scripts/test` installs Chromium and sets JIPPNAS_REQUIRE_BROWSER, so in CI a
/// missing browser fails the test; elsewhere it is skipped.
@Suite("Catalogue web page", .serialized, .enabled(if: BrokerFixture.shouldRun, "needs the broker from scripts/test"))
struct CataloguePageTests {
    static let browserPresent = FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
    static let required = ProcessInfo.processInfo.environment["JIPPNAS_REQUIRE_BROWSER"] == "1"

    @Test("search, a detail page, replication links both ways and escaped markup in headless Chromium",
          .enabled(if: browserPresent || required, "needs chromium and chromedriver (scripts/test installs them)"))
    func pageInChromium() async throws {
        #expect(Self.browserPresent, "JIPPNAS_REQUIRE_BROWSER is set but /usr/bin/chromium or chromedriver is missing")
        guard Self.browserPresent else { return }
        let url = try BrokerFixture.isolatedURL("page")
        let site = try await RunningSite(label: "page", brokerURL: url.withPassword)
        // JIPPNAS_SCREENSHOTS=docs (scripts/screenshots) keeps them; otherwise they go with the temp dir.
        let screenshots = ProcessInfo.processInfo.environment["JIPPNAS_SCREENSHOTS"].map { $0.hasPrefix("/") ? $0 : repositoryRoot + "/" + $0 }
            ?? site.dir.file("screenshots")
        let run = Subprocess.run([
            "/usr/bin/python3", repositoryRoot + "/Tests/Browser/catalogue_page.py", "--base", site.baseURL, "--screenshots", screenshots,
            "--hostile-id", RunningSite.hostileID, "--hostile-title", RunningSite.hostileTitle,
        ])
        await site.stop()
        #expect(run.status == 0, "\(run.output)")
        #expect(FileManager.default.fileExists(atPath: screenshots + "/search.png"))
    }
}
