import Foundation
import Glibc

/// Tells a waiting thread that another process wrote to a SQLite database, without polling it.
///
/// The hub relay learns of a new outbox row this way the moment `jippnas hub import` commits: it
/// watches the database's directory with inotify for writes to the database or its WAL, and waits on
/// ``descriptor`` together with its broker socket. Where inotify is unavailable (limits, exotic file
/// systems) ``descriptor`` is nil and the relay falls back to reading the outbox every `idle_poll_ms`.
public final class DatabaseWatcher: Sendable {
    /// Readable when the database may have changed; nil without inotify.
    public let descriptor: Int32?
    private let name: String

    /// Watches the database at `path`. Never throws: without inotify the caller polls.
    public init(path: String) {
        let url = URL(fileURLWithPath: path)
        name = url.lastPathComponent
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            descriptor = nil
            return
        }
        let mask = UInt32(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO)
        if inotify_add_watch(fd, url.deletingLastPathComponent().path, mask) < 0 {
            Glibc.close(fd)
            descriptor = nil
        } else {
            descriptor = fd
        }
    }

    deinit {
        if let descriptor { Glibc.close(descriptor) }
    }

    /// Reads the pending notifications; returns whether any concerned this database (or its WAL).
    public func consume() -> Bool {
        guard let descriptor else { return false }
        var changed = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { return changed }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let length = buffer.withUnsafeBytes { Int($0.load(fromByteOffset: offset + 12, as: UInt32.self)) }
                let start = offset + MemoryLayout<inotify_event>.size
                let nameBytes = buffer[start..<min(start + length, count)].prefix { $0 != 0 }
                let changedName = String(decoding: nameBytes, as: UTF8.self)
                if changedName == name || changedName == name + "-wal" { changed = true }
                offset = start + length
            }
        }
    }
}
