/// How one batch of changes gets into the catalogue, as a state machine without I/O: the commit thread
/// runs the step it names and reports back whether it committed.
///
/// A batch is tried in one transaction. A failure is either local to this server (busy, locked, disk
/// full, read-only, I/O, corruption: no message is to blame) or a refusal of the data itself (a
/// constraint, a type mismatch, a value too big). Local failures are retried with backoff for as long
/// as they last, because dead-lettering valid messages for a local fault would lose them. A refusal
/// splits the failing range in halves, committing each good half, until the one message to blame is
/// alone; that message is then recorded as a dead letter (`store_refused`) and the rest go on. The
/// halves are committed in order, so changes of one innovation are still applied in arrival order.
public struct CommitPlan: Sendable {
    /// Whether a failure can be blamed on the data.
    public enum Failure: Sendable, Equatable {
        /// Local to this server; retry the same step later.
        case transient
        /// The data was refused; find the message to blame.
        case refused
    }

    /// What the commit thread does next.
    public enum Step: Sendable, Equatable {
        /// Apply the changes at these indexes in one transaction.
        case commit(Range<Int>)
        /// Record the change at this index as a dead letter (`store_refused`), alone in a transaction.
        case deadLetter(index: Int)
        /// Wait this long, then call ``resume()``.
        case wait(Duration)
        /// Every change is committed or dead-lettered; `refused` lists the dead-lettered indexes.
        case done(refused: [Int])
    }

    private var remaining: [Range<Int>]
    private var current: Step
    private var refused: [Int] = []
    private var backoff: Backoff
    /// Failed attempts of the current step, for logs.
    public private(set) var retries = 0

    /// A plan for `count` changes. A batch without changes still runs one (empty) commit: it may carry
    /// dead letters of its own.
    public init(count: Int, backoff: Backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(10))) {
        precondition(count >= 0)
        remaining = []
        current = .commit(0..<count)
        self.backoff = backoff
    }

    /// The step to run now.
    public var step: Step { current }

    /// The current step committed.
    public mutating func succeeded() -> Step {
        if case .deadLetter(let index) = current { refused.append(index) }
        backoff.reset()
        retries = 0
        current = remaining.isEmpty ? .done(refused: refused) : .commit(remaining.removeFirst())
        return current
    }

    /// The current step failed. `random` in 0...1 jitters the backoff.
    public mutating func failed(_ failure: Failure, random: Double) -> Step {
        switch (current, failure) {
        case (.commit(let range), .refused) where range.count > 1:
            let middle = range.lowerBound + range.count / 2
            remaining.insert(middle..<range.upperBound, at: 0)
            current = .commit(range.lowerBound..<middle)
            return current
        case (.commit(let range), .refused) where range.count == 1:
            current = .deadLetter(index: range.lowerBound)
            return current
        default:
            // A local failure, or a refusal with nothing left to blame (an empty range, or the dead-letter
            // record itself): wait and try the same step again.
            retries += 1
            let delay = backoff.nextDelay(random: random)
            return .wait(delay)
        }
    }

    /// After a ``Step/wait(_:)``: the step to try again.
    public func resume() -> Step { current }
}
