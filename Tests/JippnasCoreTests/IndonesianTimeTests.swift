import JippnasCore
import Testing

@Suite("Dates in Indonesian, in the hub's time zone")
struct IndonesianTimeTests {
    @Test("provinces and kabupaten/kota fall in WIB, WITA or WIT")
    func zones() {
        #expect(IndonesianTime.zone(of: "35") == .wib && IndonesianTime.zone(of: "61") == .wib && IndonesianTime.zone(of: "12") == .wib)
        #expect(IndonesianTime.zone(of: "73") == .wita && IndonesianTime.zone(of: "51") == .wita && IndonesianTime.zone(of: "64.71") == .wita)
        #expect(IndonesianTime.zone(of: "81") == .wit && IndonesianTime.zone(of: "91") == .wit && IndonesianTime.zone(of: "96") == .wit)
    }

    @Test("an instant is written in the zone, with the Indonesian month and a dot in the time")
    func dateTimes() {
        #expect(IndonesianTime.dateTime("2026-12-07T07:05:00Z", zone: .wib) == "7 Desember 2026 14.05 WIB")
        #expect(IndonesianTime.dateTime("2026-12-07T17:30:00Z", zone: .wit) == "8 Desember 2026 02.30 WIT")
        #expect(IndonesianTime.dateTime("2026-01-31T16:00:00.123Z", zone: .wita) == "1 Februari 2026 00.00 WITA")
        #expect(IndonesianTime.dateTime("bukan waktu", zone: .wib) == "bukan waktu")
    }

    @Test("calendar dates, whole or in part")
    func dates() {
        #expect(IndonesianTime.date("2021-03-12") == "12 Maret 2021")
        #expect(IndonesianTime.date("2021-08") == "Agustus 2021")
        #expect(IndonesianTime.date("2021") == "2021")
        #expect(IndonesianTime.date("2021-13-01") == "2021-13-01" && IndonesianTime.date("kemarin") == "kemarin")
    }

    @Test("a cursor keeps its order through its token")
    func cursorOrders() {
        for sort in SearchSort.allCases {
            let cursor = SearchCursor(rank: -20210312, globalID: "35:a", sort: sort)
            #expect(SearchCursor(token: cursor.token) == cursor)
        }
    }
}
