import Foundation
import JippnasOps
import JippnasServices
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs a daemon's work loop under a ServiceGroup: SIGTERM/SIGINT stop it gracefully (STOPPING=1 to
/// systemd, then the loop settles what is in flight), SIGHUP reloads the config file.
///
/// - Parameter reload: loads the settings again and applies what can change while running; it throws
///   (with what is wrong) to keep the running settings.
func runDaemon(_ service: BlockingLoopService, grace: Duration, notifier: SystemdNotifier, logger: Logger,
               reload: @escaping @Sendable () async throws -> Void) async throws
{
    var configuration = ServiceGroupConfiguration(
        services: [
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: StoppingNotice(notifier: notifier, logger: logger)),
            .init(service: ReloadOnHangup(notifier: notifier, logger: logger, reload: reload)),
        ],
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
