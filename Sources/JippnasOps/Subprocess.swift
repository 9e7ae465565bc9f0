import Foundation

/// Runs a short command to completion and collects its output.
///
/// Uses posix_spawn and waitpid rather than Foundation's Process, whose waitUntilExit was seen to hang
/// here when the command leaves a daemon running in its own session (rabbitmqctl can start epmd).
public enum Subprocess {
    public struct Outcome: Sendable {
        /// The exit status, or -1 when the command could not start or died of a signal.
        public var status: Int32
        /// Standard output and standard error, interleaved.
        public var output: String
    }

    /// Runs `arguments` (looked up on PATH) with standard input from /dev/null.
    public static func run(_ arguments: [String]) -> Outcome {
        let outputPath = FileManager.default.temporaryDirectory.path + "/jippnas-cmd-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = (["/usr/bin/env"] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, environ)
        guard rc == 0 else { return Outcome(status: -1, output: "cannot start \(arguments.first ?? "?"): errno \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        return Outcome(status: exited ? (status >> 8) & 0xff : -1, output: text)
    }
}
