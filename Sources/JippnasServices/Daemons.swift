import Foundation
import JippnasCore
import Logging
import ServiceLifecycle

/// Runs a blocking work loop (``HubRelay`` or ``Aggregator``) as a swift-service-lifecycle service:
/// graceful shutdown (SIGTERM/SIGINT through the ServiceGroup) or cancellation asks the loop to stop,
/// and the service returns once the loop has settled its in-flight work.
public struct BlockingLoopService: Service, CustomStringConvertible {
    private let name: String
    private let loop: @Sendable (StopSignal) -> Void

    public init(name: String, loop: @escaping @Sendable (StopSignal) -> Void) {
        self.name = name
        self.loop = loop
    }

    public var description: String { name }

    public func run() async throws {
        let stop = StopSignal()
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await DedicatedThread.run(name: name) { loop(stop) }
            } onGracefulShutdown: {
                stop.stop()
            }
        } onCancel: {
            stop.stop()
        }
    }
}

extension BlockingLoopService {
    /// One service running several loops, each on a thread of its own; it returns once all have settled.
    public init(name: String, loops: [(name: String, run: @Sendable (StopSignal) -> Void)]) {
        self.init(name: name) { stop in
            let group = DispatchGroup()
            for loop in loops {
                group.enter()
                let thread = Thread {
                    loop.run(stop)
                    group.leave()
                }
                thread.name = loop.name
                thread.start()
            }
            group.wait()
        }
    }
}

extension HubRelay {
    /// The relay as a service for a ServiceGroup.
    public var service: BlockingLoopService { BlockingLoopService(name: "hub-relay") { self.run(until: $0) } }
}

extension Aggregator {
    /// The aggregator as a service for a ServiceGroup.
    public var service: BlockingLoopService { BlockingLoopService(name: "aggregator") { self.run(until: $0) } }
}

extension CatalogueMirror {
    /// The mirror as a service for a ServiceGroup.
    public var service: BlockingLoopService { BlockingLoopService(name: "mirror") { self.run(until: $0) } }
}

extension FeedPublisher {
    /// The feed's publisher as a service for a ServiceGroup.
    public var service: BlockingLoopService { BlockingLoopService(name: "feed") { self.run(until: $0) } }
}
