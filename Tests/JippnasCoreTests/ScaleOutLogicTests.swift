import Foundation
import JippnasCore
import Testing

@Suite("Stream positions and the national topology")
struct ScaleOutLogicTests {
    @Test("stream starts parse to their consumer arguments; anything else is refused with the forms")
    func streamStarts() throws {
        #expect(try StreamStart(parsing: "first").argument == .string("first"))
        #expect(try StreamStart(parsing: "next").argument == .string("next"))
        #expect(try StreamStart(parsing: "1234").argument == .int(1234))
        #expect(try StreamStart(parsing: "2026-11-30T00:00:00Z").argument == .timestamp(1_795_996_800))
        for bad in ["", "-1", "yesterday", "12x", "1e5"] {
            #expect(throws: StreamStartError.self) { try StreamStart(parsing: bad) }
        }
        #expect(throws: StreamStartError.self) { try StreamStart(parsing: "x") }
        do { _ = try StreamStart(parsing: "x") } catch { #expect(error.description.contains("first, last, next")) }
    }

    @Test("a cursor attaches after what is applied, skips the rest of the first chunk, and only moves forward")
    func cursor() {
        var cursor = StreamCursor(nextOffset: nil)
        #expect(cursor.attach(configured: .first) == .first)
        #expect(cursor.isNew(0) && cursor.isNew(nil))
        cursor.committed(through: 41)
        #expect(cursor.attach(configured: .first) == .offset(42))
        #expect(!cursor.isNew(40) && !cursor.isNew(41) && cursor.isNew(42))
        cursor.committed(through: 10)
        #expect(cursor.nextOffset == 42)
        #expect(cursor.isNew(nil))  // a delivery without an offset cannot be placed: applied, recognised by id
    }

    @Test("quorum is the default, with a delivery limit and the dead-letter exchange; classic declares no type")
    func topologyArguments() {
        let quorum = NationalTopology()
        #expect(quorum.nationalQueueArguments == [
            "x-queue-type": .string("quorum"), "x-delivery-limit": .int(20),
            "x-dead-letter-exchange": .string(WireNames.deadLetterExchange),
        ])
        #expect(quorum.deadQueueArguments == ["x-queue-type": .string("quorum")])
        #expect(quorum.historyArguments?["x-queue-type"] == .string("stream"))
        #expect(quorum.historyArguments?["x-max-age"] == .string("30D"))
        let classic = NationalTopology(queueType: .classic, history: nil)
        #expect(classic.nationalQueueArguments == ["x-dead-letter-exchange": .string(WireNames.deadLetterExchange)])
        #expect(classic.deadQueueArguments.isEmpty && classic.historyArguments == nil)
    }

    @Test("retention ages follow RabbitMQ's syntax")
    func ages() {
        for good in ["30D", "12h", "1Y", "90m", "3600s", "6M"] { #expect(HistoryRetention.isValidAge(good), "\(good)") }
        for bad in ["", "D", "30", "30d", "-1D", "0D", "1.5D", "30 D"] { #expect(!HistoryRetention.isValidAge(bad), "\(bad)") }
    }
}
