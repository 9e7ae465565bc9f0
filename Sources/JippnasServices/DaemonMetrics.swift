import Metrics
import Synchronization

/// The hub relay's metrics (swift-metrics; exported by the HTTP listener when it is on). Created with the
/// relay, after the metrics backend is bootstrapped; updated per batch, never per message.
struct RelayMetrics: Sendable {
    let published: Counter
    let confirmed: Counter
    let nacked: Counter
    let returned: Counter
    let reconnects: Counter
    let checkpoints: Counter
    let outboxDepth: Gauge

    init(hub: String) {
        let dimensions = [("hub", hub)]
        published = Counter(label: "jippnas_hub_published_total", dimensions: dimensions)
        confirmed = Counter(label: "jippnas_hub_confirmed_total", dimensions: dimensions)
        nacked = Counter(label: "jippnas_hub_nacked_total", dimensions: dimensions)
        returned = Counter(label: "jippnas_hub_returned_total", dimensions: dimensions)
        reconnects = Counter(label: "jippnas_reconnects_total", dimensions: [("role", "hub")] + dimensions)
        checkpoints = Counter(label: "jippnas_hub_checkpoints_total", dimensions: dimensions)
        outboxDepth = Gauge(label: "jippnas_hub_outbox_depth", dimensions: dimensions)
    }
}

/// The aggregator's metrics, updated once per committed batch.
struct AggregatorMetrics: Sendable {
    let consumed = Counter(label: "jippnas_aggregator_consumed_total")
    let applied = Counter(label: "jippnas_aggregator_applied_total")
    let stale = Counter(label: "jippnas_aggregator_stale_total")
    let duplicates = Counter(label: "jippnas_aggregator_duplicates_total")
    let deadLettered = Counter(label: "jippnas_aggregator_dead_lettered_total")
    let reconnects = Counter(label: "jippnas_reconnects_total", dimensions: [("role", "aggregator")])
    let commitRetries = Counter(label: "jippnas_aggregator_commit_retries_total")
    let resyncRequests = Counter(label: "jippnas_aggregator_resync_requests_total")
    let batchCommit = Timer(label: "jippnas_aggregator_batch_commit_seconds", preferredDisplayUnit: .seconds)
}

/// The once-a-minute window of a daemon's summary line: kept by the loop object, not the connection,
/// so reconnects do not reset it.
final class MinuteSummary<Counters: Sendable>: Sendable {
    private let state: Mutex<(at: ContinuousClock.Instant, counters: Counters)>

    init(_ initial: Counters) {
        state = Mutex((ContinuousClock.now, initial))
    }

    /// When a minute has passed: the counters at the previous summary, and a new window starts at `now`.
    func due(_ current: Counters) -> Counters? {
        let now = ContinuousClock.now
        return state.withLock { window -> Counters? in
            guard now - window.at >= .seconds(60) else { return nil }
            defer { window = (now, current) }
            return window.counters
        }
    }
}
