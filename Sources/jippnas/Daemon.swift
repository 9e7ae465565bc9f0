import Foundation
import Hummingbird
import JippnasHTTP
import JippnasOps
import JippnasServices
import JippnasStore
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Runs a daemon's work loop under a ServiceGroup: SIGTERM/SIGINT stop it gracefully (STOPPING=1 to
/// systemd, then the loop settles what is in flight), SIGHUP reloads the config file.
///
/// - Parameter reload: loads the settings again and applies what can change while running; it throws
///   (with what is wrong) to keep the running settings.
func runDaemon(_ service: BlockingLoopService, reporter: some Service, http: (any Service)?, grace: Duration,
               notifier: SystemdNotifier, logger: Logger, reload: @escaping @Sendable () async throws -> Void) async throws
{
    var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
        .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup),
        .init(service: reporter),
        .init(service: StoppingNotice(notifier: notifier, logger: logger)),
        .init(service: ReloadOnHangup(notifier: notifier, logger: logger, reload: reload)),
    ]
    if let http { services.append(.init(service: http)) }
    var configuration = ServiceGroupConfiguration(
        services: services,
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger)
    // Past the grace period the group cancels the loop: unacknowledged work is then redelivered later.
    configuration.maximumGracefulShutdownDuration = grace
    try await ServiceGroup(configuration: configuration).run()
}

/// Tells systemd the service is stopping as soon as a graceful shutdown begins.
private struct StoppingNotice: Service, CustomStringConvertible {
    var description: String { "StoppingNotice" }
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        notifier.notify("STOPPING=1")
        logger.info("stopping", metadata: ["reason": "signal"])
    }
}

/// Reloads the config file on SIGHUP, with RELOADING=1 / READY=1 around it.
private struct ReloadOnHangup: Service, CustomStringConvertible {
    var description: String { "ReloadOnHangup" }
    let notifier: SystemdNotifier
    let logger: Logger
    let reload: @Sendable () async throws -> Void

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            notifier.notify("RELOADING=1")
            do {
                try await reload()
            } catch {
                logger.error("reload refused; keeping the running settings", metadata: ["reason": "\(error)"])
            }
            notifier.notify("READY=1")
        }
    }
}

/// Writes the daemon's state file every two seconds while it runs.
struct StateReporter<Counters: Codable & Sendable>: Service, CustomStringConvertible {
    var description: String { "StateReporter" }
    let role: String
    let database: String
    let board: StatusBoard
    let counters: @Sendable () -> Counters
    let logger: Logger

    func run() async throws {
        var warned = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try DaemonState(role: role, status: board.current, counters: counters()).write(database: database)
            } catch {
                if !warned { logger.warning("cannot write the state file", metadata: ["reason": "\(error)"]) }
                warned = true
            }
            try? await Task.sleep(for: .seconds(2))
        }
        // Leave a last word: `jippnas status` then reports the daemon as stopped, not as stuck.
        try? DaemonState(role: role, status: "stopped", counters: counters()).write(database: database)
    }
}

/// Runs a daemon's work loop with everything around it: the database lock, sd_notify (through the
/// status board), the state file for `jippnas status`, the optional `/metrics` and `/healthz` listener,
/// and the signals (``runDaemon``).
///
/// - Parameters:
///   - makeLoop: builds the work loop with the observer to report to. It is called after the metrics
///     backend is bootstrapped, so the loop's metrics go to Prometheus.
///   - reload: applies reloaded settings to the running loop (SIGHUP).
func serveDaemon<Loop: Sendable, Counters: Codable & Sendable>(
    role: String, owner: String, database: String, httpListen: String?, grace: Duration, logger: Logger,
    makeLoop: (LoopObserver) -> Loop, service: (Loop) -> BlockingLoopService,
    counters: @escaping @Sendable (Loop) -> Counters, connected: @escaping @Sendable (Loop) -> Bool,
    reload: @escaping @Sendable (Loop, Logger) async throws -> Void,
    routes: (Router<BasicRequestContext>) throws -> Void = { _ in }
) async throws {
    let lock: DatabaseLock
    do {
        lock = try DatabaseLock(database: database, owner: owner)
    } catch {
        printError("\(error)")
        throw ExitCodes.failure
    }
    try await serveDaemon(role: role, lock: lock, database: database, httpListen: httpListen, grace: grace, logger: logger,
                          makeLoop: makeLoop, service: service, counters: counters, connected: connected, reload: reload,
                          routes: routes)
}

/// ``serveDaemon(role:owner:database:httpListen:grace:logger:makeLoop:service:counters:connected:reload:routes:)``
/// for a daemon that took its database's lock already, before opening the database
/// (``openOwnedCatalogue(_:owner:logger:)``).
func serveDaemon<Loop: Sendable, Counters: Codable & Sendable>(
    role: String, lock: DatabaseLock, database: String, httpListen: String?, grace: Duration, logger: Logger,
    makeLoop: (LoopObserver) -> Loop, service: (Loop) -> BlockingLoopService,
    counters: @escaping @Sendable (Loop) -> Counters, connected: @escaping @Sendable (Loop) -> Bool,
    reload: @escaping @Sendable (Loop, Logger) async throws -> Void,
    routes: (Router<BasicRequestContext>) throws -> Void = { _ in }
) async throws {
    defer { withExtendedLifetime(lock) {} }
    let registry = httpListen.map { _ in HealthServer.bootstrapMetrics() }
    let notifier = SystemdNotifier()
    let board = StatusBoard(notifier: notifier)
    let loop = makeLoop(board.observer)
    var http: (any Service)?
    if let httpListen, let registry {
        http = try httpApplication(listen: httpListen, registry: registry, logger: logger, routes: routes) {
            connected(loop) ? nil : "not connected to the broker (\(board.current))"
        }
    }
    let reporter = StateReporter(role: role, database: database, board: board, counters: { counters(loop) }, logger: logger)
    try await runDaemon(service(loop), reporter: reporter, http: http, grace: grace, notifier: notifier, logger: logger) {
        try await reload(loop, logger)
    }
}

/// Plain AMQP to another machine sends the password and every message in clear: say so at start.
func warnAboutPlainBrokers(_ broker: BrokerSettings, logger: Logger) {
    for url in broker.plainRemoteURLs {
        logger.warning("broker connection is not encrypted", metadata: [
            "broker": "\(url)",
            "hint": "use amqps:// (with broker.tls.ca_file) for a broker on another machine: plain AMQP carries the password and every message in clear",
        ])
    }
}

/// The HTTP listener, or the exit a failure to build it means: 1 when the store behind its routes cannot
/// be opened, 64 for a bad `http.listen`.
func httpApplication(listen: String, registry: PrometheusCollectorRegistry, logger: Logger,
                     routes: (Router<BasicRequestContext>) throws -> Void,
                     problem: @escaping @Sendable () -> String?) throws -> any Service
{
    do {
        return try HealthServer.application(listen: listen, registry: registry, logger: logger, routes: routes, problem: problem)
    } catch let error as StoreError {
        printError("\(error)")
        throw ExitCodes.failure
    } catch {
        printError("\(error)")
        throw ExitCodes.usage
    }
}

/// Opens a catalogue as its owner: takes its lock first, so that migrating or rebuilding the search index
/// never happens under another daemon, then opens it with ``SearchIndexUpkeep/rebuildIfStale``. Such a step
/// can take minutes at a million records: it is logged before it starts and when it ends, shown in
/// systemd's status, and systemd's start timeout is extended while it lasts.
func openOwnedCatalogue(_ path: String, owner: String, logger: Logger) throws -> (CatalogueStore, DatabaseLock) {
    let lock: DatabaseLock
    do {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        lock = try DatabaseLock(database: path, owner: owner)
    } catch {
        printError("\(error)")
        throw ExitCodes.failure
    }
    let notifier = SystemdNotifier()
    let extension_ = Mutex<StartTimeoutExtension?>(nil)
    let started = ContinuousClock.now
    let store = try openDatabase(path) { path in
        try CatalogueStore(path: path, searchIndex: .rebuildIfStale) { step in
            logger.notice("long start-up step", metadata: ["database": "\(path)", "step": "\(step)"])
            notifier.notify("STATUS=\(step)")
            extension_.withLock { $0 = $0 ?? StartTimeoutExtension(notifier: notifier) }
        }
    }
    if let running = extension_.withLock({ $0 }) {
        running.finish()
        logger.notice("start-up steps done", metadata: ["database": "\(path)", "elapsed": "\(ContinuousClock.now - started)"])
    }
    return (store, lock)
}
