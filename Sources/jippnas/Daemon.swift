import Foundation
import JippnasHTTP
import JippnasOps
import JippnasServices
import Logging
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

/// The HTTP listener when `http.listen` is set: bootstraps Prometheus as the metrics backend (so call it
/// before the work loop creates its metrics) and serves `/metrics` and `/healthz`.
func httpListener(listen: String?, logger: Logger, problem: @escaping @Sendable () -> String?) throws -> (any Service)? {
    guard let listen else { return nil }
    let registry = HealthServer.bootstrapMetrics()
    do {
        return try HealthServer.application(listen: listen, registry: registry, logger: logger, problem: problem)
    } catch {
        printError("\(error)")
        throw ExitCodes.usage
    }
}

/// Holds the work loop once it exists, for the health check that is built before it.
final class LoopSlot<Loop: Sendable>: Sendable {
    private let slot = Mutex<Loop?>(nil)
    func set(_ loop: Loop) { slot.withLock { $0 = loop } }
    var loop: Loop? { slot.withLock { $0 } }
}
