import Foundation
import JippnasCore
import JippnasOps

/// `scripts/fault-proxy` between daemons and the broker: it passes traffic, delays it, or black-holes it
/// without closing sockets (a half-open link, as long-haul WAN links and NAT boxes fail).
public final class FaultProxy: Sendable {
    /// Where daemons connect instead of the broker.
    public let port: Int
    private let control: Int
    private let process: ChildProcess

    /// Starts a proxy on a free loopback port in front of `target`.
    public init(target: BrokerURL, logPath: String) async throws {
        let script = repositoryRoot + "/scripts/fault-proxy"
        let out = logPath + ".out"
        process = try ChildProcess(["/bin/sh", "-c", "exec /usr/bin/python3 \"$0\" --listen 127.0.0.1:0 --target \"$1\" >\"$2\" 2>>\"$3\"",
                                    script, "\(target.host):\(target.port)", out, logPath], outputPath: logPath)
        var ports: [String: Int] = [:]
        let deadline = ContinuousClock.now + .seconds(10)
        while ports.count < 2 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                if parts.count == 2, let value = Int(parts[1]) { ports[String(parts[0])] = value }
            }
        }
        guard let port = ports["port"], let control = ports["control"] else {
            throw BrokerFixture.Unavailable(description: "fault-proxy did not start: \(process.output)")
        }
        self.port = port
        self.control = control
    }

    /// `url` with its host and port replaced by the proxy's.
    public func url(for url: BrokerURL) -> BrokerURL {
        var proxied = url
        proxied.host = "127.0.0.1"
        proxied.port = port
        return proxied
    }

    /// Sends a control command (`pass`, `blackhole`, `blackhole-replies`, `delay MS`, `reset`, `status`) and
    /// returns the proxy's answer; throws unless it is `ok`.
    @discardableResult
    public func command(_ command: String) throws -> String {
        let outcome = Subprocess.run([repositoryRoot + "/scripts/fault-proxy", "ctl", String(control)]
                                     + command.split(separator: " ").map(String.init))
        guard outcome.status == 0 else {
            throw BrokerFixture.Unavailable(description: "fault-proxy \(command): \(outcome.output)")
        }
        return outcome.output
    }

    public func stop() async {
        process.signal(SIGTERM)
        _ = await process.wait(timeout: .seconds(5))
    }
}
