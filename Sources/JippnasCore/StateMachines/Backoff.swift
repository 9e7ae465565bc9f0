/// Exponential backoff with jitter and a cap, reset after a healthy period. Pure: the caller supplies
/// the random source and decides when to sleep.
public struct Backoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    public let multiplier: Double
    private(set) public var attempt: Int = 0

    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(30), multiplier: Double = 2) {
        precondition(initial > .zero && maximum >= initial && multiplier >= 1)
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
    }

    /// The delay before the next attempt: the exponential step, capped, with "equal jitter"
    /// (half fixed, half random) so many hubs reconnecting after a broker restart spread out.
    public mutating func nextDelay(random: Double) -> Duration {
        let base = min(initial.seconds * pow(multiplier, Double(attempt)), maximum.seconds)
        attempt += 1
        let jittered = base / 2 + base / 2 * min(max(random, 0), 1)
        return .milliseconds(Int64((jittered * 1000).rounded()))
    }

    /// The next delay drawn from the system random source.
    public mutating func nextDelay() -> Duration { nextDelay(random: Double.random(in: 0...1)) }

    /// Back to the first step, after a connection proved healthy.
    public mutating func reset() { attempt = 0 }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var e = Int(exponent)
        while e > 0 && result < 1e12 {
            result *= base
            e -= 1
        }
        return result
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
