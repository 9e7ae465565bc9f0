import Foundation

/// An exclusive lock on a daemon's database, so two daemons can never share one.
///
/// `flock` on `<database>.lock`, held for the life of the value and released by the kernel if the process
/// dies. The file records the holder's pid and command, so the second daemon can say who is in the way.
public final class DatabaseLock: Sendable {
    public let path: String
    private let descriptor: Int32

    /// Takes the lock or throws a ``StoreError`` naming the holder.
    public init(database: String, owner: String) throws(StoreError) {
        path = database + ".lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreError(operation: "lock", path: path, message: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .split(separator: "\n").joined(separator: ", ") ?? "unknown"
            close(fd)
            throw StoreError(operation: "lock", path: database,
                             message: "already in use by another daemon (\(holder)); only one daemon may use a database")
        }
        let info = "pid=\(getpid())\ncommand=\(owner)\nsince=\(Date())\n"
        _ = ftruncate(fd, 0)
        _ = info.withCString { write(fd, $0, strlen($0)) }
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }
}

/// Keeps operator commands that write a hub store (`hub import`, `hub withdraw`: shared) and a restore
/// that replaces the store's file (`hub restore`: exclusive) apart: a write into a file being replaced
/// would be lost with it. `flock` on `<database>.replace-lock`, released by the kernel if the process dies.
public final class StoreReplacementLock: Sendable {
    private let descriptor: Int32

    /// Shared: waits while a restore runs. Exclusive: fails at once while a write command runs.
    public init(database: String, exclusive: Bool) throws(StoreError) {
        let path = database + ".replace-lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreError(operation: "lock", path: path, message: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
        if flock(fd, exclusive ? LOCK_EX | LOCK_NB : LOCK_SH) != 0 {
            close(fd)
            throw StoreError(operation: "lock", path: database,
                             message: "an import or withdrawal is writing this store; wait for it to finish")
        }
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }
}
