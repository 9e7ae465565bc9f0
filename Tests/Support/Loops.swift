import Foundation
import JippnasServices

/// A blocking work loop (hub relay or aggregator) running on its own thread for a test.
public final class RunningLoop: Sendable {
    private let stopSignal = StopSignal()
    private let task: Task<Void, Never>

    public init(name: String, _ loop: @escaping @Sendable (StopSignal) -> Void) {
        let signal = stopSignal
        task = Task { await DedicatedThread.run(name: name) { loop(signal) } }
    }

    /// Asks the loop to stop and waits until it returned.
    public func stop() async {
        stopSignal.stop()
        await task.value
    }
}
