import JippnasCore
import Testing

@Suite("Confirm window")
struct ConfirmTrackerTests {
    func tracker(_ n: Int, window: Int = 10) -> ConfirmTracker {
        var t = ConfirmTracker(window: window)
        for seq in 1...n { t.published(seq: Int64(seq * 10), messageID: "m\(seq)") }
        return t
    }

    @Test func tagsCountFromOneAndWindowFills() {
        var t = ConfirmTracker(window: 2)
        #expect(t.published(seq: 5, messageID: "a") == 1)
        #expect(t.published(seq: 6, messageID: "b") == 2)
        #expect(!t.hasRoom)
        #expect(t.outstanding == 2)
    }

    @Test func multipleAckConfirmsEverythingUpToTheTag() {
        var t = tracker(5)
        #expect(t.ack(tag: 3, multiple: true) == .init(confirmed: [10, 20, 30]))
        #expect(t.outstanding == 2)
        #expect(t.ack(tag: 5, multiple: true) == .init(confirmed: [40, 50]))
        #expect(t.outstanding == 0)
    }

    @Test func singleAcksMayArriveOutOfOrder() {
        var t = tracker(3)
        #expect(t.ack(tag: 2, multiple: false) == .init(confirmed: [20]))
        #expect(t.ack(tag: 1, multiple: false) == .init(confirmed: [10]))
        #expect(t.ack(tag: 2, multiple: false) == .init())  // already settled: ignored
        #expect(t.outstanding == 1)
    }

    @Test func nackFailsRowsSoTheyArePublishedAgain() {
        var t = tracker(4)
        #expect(t.nack(tag: 2, multiple: true) == .init(failed: [10, 20]))
        #expect(t.nack(tag: 4, multiple: false) == .init(failed: [40]))
        #expect(t.outstanding == 1)
    }

    @Test func returnedMessageIsNotConfirmedByItsAck() {
        var t = tracker(3)
        t.returned(messageID: "m2")
        #expect(t.ack(tag: 3, multiple: true) == .init(confirmed: [10, 30], failed: [20]))
    }

    @Test func resetFailsEverythingOutstandingAndRestartsTags() {
        var t = tracker(3)
        _ = t.ack(tag: 1, multiple: false)
        #expect(t.reset() == [20, 30])
        #expect(t.published(seq: 99, messageID: "x") == 1)
    }
}

@Suite("Backoff")
struct BackoffTests {
    @Test func growsExponentiallyUpToTheCap() {
        var b = Backoff(initial: .milliseconds(100), maximum: .seconds(2), multiplier: 2)
        let delays = (0..<8).map { _ in b.nextDelay(random: 1) }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                           .milliseconds(1600), .seconds(2), .seconds(2), .seconds(2)])
    }

    @Test func jitterStaysBetweenHalfAndFull() {
        var low = Backoff(initial: .seconds(1), maximum: .seconds(10))
        var high = low
        #expect(low.nextDelay(random: 0) == .milliseconds(500))
        #expect(high.nextDelay(random: 1) == .seconds(1))
    }

    @Test func resetStartsOver() {
        var b = Backoff(initial: .milliseconds(100), maximum: .seconds(5))
        _ = b.nextDelay(random: 1)
        _ = b.nextDelay(random: 1)
        b.reset()
        #expect(b.nextDelay(random: 1) == .milliseconds(100))
    }
}

@Suite("Apply decision")
struct ApplyDecisionTests {
    @Test func decisions() {
        #expect(ApplyDecision.decide(messageSeen: false, storedRevision: nil, incomingRevision: 1) == .apply)
        #expect(ApplyDecision.decide(messageSeen: false, storedRevision: 2, incomingRevision: 3) == .apply)
        #expect(ApplyDecision.decide(messageSeen: false, storedRevision: 3, incomingRevision: 3) == .stale)
        #expect(ApplyDecision.decide(messageSeen: false, storedRevision: 3, incomingRevision: 2) == .stale)
        #expect(ApplyDecision.decide(messageSeen: true, storedRevision: 3, incomingRevision: 3) == .duplicate)
        #expect(ApplyDecision.decide(messageSeen: true, storedRevision: nil, incomingRevision: 9) == .duplicate)
    }
}

@Suite("Routing keys")
struct RoutingKeyTests {
    @Test func buildAndParse() {
        #expect(RoutingKey.innovation(province: "35", event: .upsert) == "35.innovation.upsert")
        #expect(RoutingKey.hubMessage(province: "73", kind: "checkpoint") == "73.hub.checkpoint")
        #expect(RoutingKey.parse("35.innovation.withdraw") == .innovation(province: "35", event: .withdraw))
        #expect(RoutingKey.parse("73.hub.checkpoint") == .hub(province: "73", kind: "checkpoint"))
        #expect(RoutingKey.parse("35.innovation.withdraw")?.province == "35")
    }

    @Test(arguments: ["", "35", "35.innovation", "35.innovation.upsert.x", "00.innovation.upsert", "35.other.upsert",
                      "35.hub.", "x5.innovation.upsert", "35.innovation.Upsert", ".innovation.upsert", "35..upsert",
                      "35.innovation.upsert.", "35.hub.checkpoint.x", "35.innovation..upsert", "35.hub.\u{301}",
                      "35.innovation.upsért"])
    func refusesMalformedKeys(key: String) {
        #expect(RoutingKey.parse(key) == nil)
    }
}

/// A clock instant the test moves by hand.
struct TestInstant: InstantProtocol {
    var offset: Duration
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (a: TestInstant, b: TestInstant) -> Bool { a.offset < b.offset }
}

@Suite("Reconnect planner")
struct ReconnectPlannerTests {
    let urls = try! ["amqp://a", "amqp://b", "amqp://c"].map { try BrokerURL(parsing: $0) }
    let t0 = TestInstant(offset: .zero)

    func planner() -> ReconnectPlanner<TestInstant> {
        ReconnectPlanner(urls: urls, backoff: Backoff(initial: .milliseconds(100), maximum: .seconds(1)),
                         healthyAfter: .seconds(10))
    }

    @Test func triesEveryNodeInTurnWithGrowingCappedDelays() {
        var p = planner()
        var tried: [String] = []
        var delays: [Duration] = []
        for _ in 0..<6 {
            tried.append(p.current.host)
            delays.append(p.connectFailed(at: t0, random: 1))
        }
        #expect(tried == ["a", "b", "c", "a", "b", "c"])
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(p.failures == 6)
    }

    @Test func aHealthyConnectionResetsTheBackoff() {
        var p = planner()
        for _ in 0..<4 { _ = p.connectFailed(at: t0, random: 1) }
        p.connected(at: t0)
        let delay = p.disconnected(at: t0.advanced(by: .seconds(30)), random: 1)
        #expect(delay == .milliseconds(100))
        #expect(p.failures == 1)
    }

    @Test func aShortLivedConnectionKeepsBackingOff() {
        var p = planner()
        for _ in 0..<3 { _ = p.connectFailed(at: t0, random: 1) }
        p.connected(at: t0)
        #expect(p.disconnected(at: t0.advanced(by: .seconds(2)), random: 1) == .milliseconds(800))
        #expect(p.current.host == "b")
    }
}
