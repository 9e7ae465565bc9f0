import ArgumentParser
import Foundation
import Hummingbird
import JippnasAPI
import JippnasHTTP
import JippnasOps
import JippnasStore
import JippnasWeb
import Logging
import ServiceLifecycle
import UnixSignals

/// The catalogue as the HTTP listener serves it: the web page at `/`, the API under `/api/v1`.
enum CatalogueSite {
    /// Adds the catalogue's routes, reading through a read-only store of its own: a separate connection
    /// pool, so requests never wait on (or hold up) the aggregator's commits.
    static func register(on router: Router<BasicRequestContext>, settings: AggregatorSettings, logger: Logger) throws {
        let store = try CatalogueStore(path: settings.database, access: .readOnly)
        let summaries = CatalogueSummaries(store: store, maxAge: .seconds(settings.web.cacheMaxAge))
        // One cache for both: the page and the API ask the same searches.
        let search = CachedSearch(store: store)
        try CatalogueAPI.register(on: router, store: store, search: search, summaries: summaries, settings: settings.web, logger: logger)
        try CatalogueWeb(search: search, summaries: summaries, logger: logger).register(on: router)
    }
}

extension CatalogueCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the catalogue's web page and API from a catalogue file, without consuming.",
            discussion: """
                What the aggregator's http.listen serves, for a catalogue that no aggregator runs on this \
                machine: a copy, a read replica, a demo. Read-only. Stops on SIGTERM or SIGINT.
                """)
        @OptionGroup var common: ConfigOptions
        @Option(name: .long, help: "host:port to listen on (default: http.listen, else 127.0.0.1:9464).") var listen: String?

        func run() async throws {
            let settings = try await loadSettings(role: "aggregator", options: common, SettingsLoader.aggregator)
            Logs.bootstrap(level: settings.logLevel, format: settings.logFormat)
            var logger = Logger(label: "jippnas.catalogue")
            logger[metadataKey: "role"] = "catalogue"
            guard FileManager.default.fileExists(atPath: settings.database) else {
                printError("no store at \(settings.database)")
                throw ExitCodes.failure
            }
            let address = listen ?? settings.httpListen ?? "127.0.0.1:9464"
            let app = try httpApplication(listen: address, registry: HealthServer.bootstrapMetrics(), logger: logger,
                                          routes: { try CatalogueSite.register(on: $0, settings: settings, logger: logger) }) { nil }
            logger.notice("serving catalogue", metadata: ["database": "\(settings.database)", "listen": "\(address)"])
            let group = ServiceGroup(configuration: .init(services: [.init(service: app)],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
