import Foundation
import Synchronization

/// A stop request shared between an async service and the thread doing its blocking work.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    /// Asks the work loop to stop at its next check.
    public func stop() { flag.store(true, ordering: .releasing) }

    /// Whether stop was requested.
    public var isStopped: Bool { flag.load(ordering: .acquiring) }

    /// Sleeps up to `duration`, waking early when stop is requested, calling `tick` every 50 ms so a
    /// watchdog sees a waiting loop as alive. Returns false if stopped.
    @discardableResult
    public func sleep(_ duration: Duration, tick: () -> Void = {}) -> Bool {
        let deadline = ContinuousClock.now + duration
        while !isStopped {
            tick()
            let left = deadline - ContinuousClock.now
            if left <= .zero { return true }
            Thread.sleep(forTimeInterval: min(left, .milliseconds(50)).seconds)
        }
        return false
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

/// Runs blocking work on its own OS thread and awaits it.
///
/// rabbitmq-c blocks in its calls and must stay on one thread per connection; Swift's cooperative pool
/// is only as wide as the cores (2 here), so blocking it would stall every other task.
public enum DedicatedThread {
    public static func run<T: Sendable>(name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: body())
            }
            thread.name = name
            thread.stackSize = 4 << 20
            thread.start()
        }
    }
}
