import Foundation

/// RFC 3339 timestamps and ISO dates, checked and written without a formatter object on the hot path.
public enum Timestamp {
    /// `date` as RFC 3339 UTC with millisecond precision, for example `2026-11-29T12:00:00.123Z`.
    public static func rfc3339(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = ms / 1000
        let millis = Int(ms - seconds * 1000)
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        seconds -= Int64(days) * 86_400
        let (y, m, d) = civilFromDays(days)
        let hh = Int(seconds / 3600), mm = Int(seconds % 3600 / 60), ss = Int(seconds % 60)
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T" + pad(hh, 2) + ":" + pad(mm, 2) + ":"
            + pad(ss, 2) + "." + pad(millis, 3) + "Z"
    }

    /// The instant an RFC 3339 timestamp names, or nil when it is not one.
    public static func parse(_ value: String) -> Date? {
        guard isValidRFC3339(value) else { return nil }
        return (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(value))
            ?? (try? Date.ISO8601FormatStyle().parse(value))
    }

    /// The current time as RFC 3339 UTC.
    public static func now() -> String { rfc3339(Date()) }

    /// Whether `value` is `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    public static func isValidRFC3339(_ value: String) -> Bool {
        let u = Array(value.utf8)
        guard u.count >= 20, u.count <= 35, isValidDateBytes(u[0..<10]), u[10] == 84 || u[10] == 116,
              digits(u[11..<13]).map({ $0 <= 23 }) == true, u[13] == 58,
              digits(u[14..<16]).map({ $0 <= 59 }) == true, u[16] == 58,
              digits(u[17..<19]).map({ $0 <= 60 }) == true else { return false }
        var i = 19
        if u[i] == 46 {
            i += 1
            let start = i
            while i < u.count, u[i] >= 48, u[i] <= 57 { i += 1 }
            if i == start || i - start > 9 { return false }
        }
        guard i < u.count else { return false }
        if u[i] == 90 || u[i] == 122 { return i == u.count - 1 }
        guard u[i] == 43 || u[i] == 45, u.count - i == 6, u[i + 3] == 58,
              digits(u[(i + 1)..<(i + 3)]).map({ $0 <= 23 }) == true,
              digits(u[(i + 4)..<(i + 6)]).map({ $0 <= 59 }) == true else { return false }
        return true
    }

    /// Whether `value` is a real calendar date `YYYY-MM-DD` between 1900 and 2999.
    public static func isValidDate(_ value: String) -> Bool {
        let u = Array(value.utf8)
        return u.count == 10 && isValidDateBytes(u[0..<10])
    }

    private static func isValidDateBytes(_ u: ArraySlice<UInt8>) -> Bool {
        let b = u.startIndex
        guard u[b + 4] == 45, u[b + 7] == 45, let y = digits(u[b..<(b + 4)]), let m = digits(u[(b + 5)..<(b + 7)]),
              let d = digits(u[(b + 8)..<(b + 10)]), (1900...2999).contains(y), (1...12).contains(m) else { return false }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return d >= 1 && d <= lengths[m - 1]
    }

    private static func digits(_ u: ArraySlice<UInt8>) -> Int? {
        var n = 0
        for c in u {
            guard c >= 48, c <= 57 else { return nil }
            n = n * 10 + Int(c - 48)
        }
        return n
    }

    private static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // Howard Hinnant's days-to-civil algorithm: avoids Calendar, which is slow and not needed for UTC.
    private static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
