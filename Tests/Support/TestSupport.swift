import Foundation
import JippnasCore

/// A temporary directory removed when the value is released.
public final class TempDir: Sendable {
    public let path: String

    public init(_ label: String = "jippnas") {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o755])
    }

    public func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(20), poll: Duration = .milliseconds(100),
                       _ condition: () throws -> Bool) async rethrows -> Bool
{
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: poll)
    }
    return try condition()
}

/// Synthetic but valid innovation content for load and integration tests.
public enum SampleData {
    /// `count` distinct innovations for `province`, ids `t-<province>-<n>`.
    public static func contents(province: String, count: Int, titleSuffix: String = "", start: Int = 1)
        -> [InnovationContent]
    {
        (start..<(start + count)).map { n in
            InnovationContent(
                id: "t-\(province)-\(n)",
                title: "Inovasi Uji \(province)-\(n)\(titleSuffix)",
                agency: "Dinas Uji Coba Provinsi \(province)",
                region: "\(province).\(String(format: "%02d", 71 + n % 20))",
                category: Category.allCases[n % Category.allCases.count],
                kind: n % 2 == 0 ? .digital : .nonDigital,
                stage: Stage.allCases[n % Stage.allCases.count],
                initiator: Initiator.allCases[n % Initiator.allCases.count],
                launchedOn: "2022-0\(1 + n % 9)-1\(n % 10)",
                summary: "Ringkasan inovasi nomor \(n) untuk pengujian federasi JIPPNas.",
                status: n % 7 == 0 ? .dormant : .active)
        }
    }
}

/// The repository root, found from this file's path.
public let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
