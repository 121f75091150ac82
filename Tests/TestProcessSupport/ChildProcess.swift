import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs helper programs (the `scripts/start-*.sh` service starters, `ldapmodify`, ...) from the
/// test runner, with a deadline, without blocking a cooperative thread.
///
/// Why not Foundation's `Process`: inside the test runner its `waitUntilExit` and
/// `terminationHandler` were seen never to return when the child started a daemon (the daemon
/// inherited the descriptor Foundation watches), which hung a whole CI run. Here the child is
/// started with `posix_spawn`, every descriptor above stderr is closed in it (so no daemon can keep
/// a pipe or socket of this process alive), it gets a process group of its own, and it is reaped
/// by polling `waitpid(WNOHANG)`. Past the deadline the whole group is killed and the call throws
/// with the output so far: a stuck helper fails one test instead of stalling the suite.
public enum ChildProcess {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Runs `executable` and returns its combined stdout and stderr. Throws ``Failure`` (with that
    /// output) when it exits non-zero, dies of a signal, or outlives `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil,
        timeout: Duration = .seconds(120)
    ) async throws -> String {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fedgate-child-\(UUID().uuidString)")
        let outputPath = scratch.path + ".out"
        let inputPath = scratch.path + ".in"
        defer {
            unlink(outputPath)
            unlink(inputPath)
        }
        guard FileManager.default.createFile(atPath: inputPath, contents: Data((input ?? "").utf8)) else {
            throw Failure("cannot write \(inputPath)")
        }

        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv = [executable] + arguments
        let envp = env.map { "\($0.key)=\($0.value)" }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inputPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        try closeDescriptors(from: 3, in: &actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var pid: pid_t = 0
        let spawned: Int32 = withCStrings(argv) { cArgv in
            withCStrings(envp) { cEnvp in posix_spawn(&pid, executable, &actions, &attributes, cArgv, cEnvp) }
        }
        guard spawned == 0 else { throw Failure("cannot start \(executable): \(String(cString: strerror(spawned)))") }

        let command = ([executable] + arguments).joined(separator: " ")
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var status: Int32 = 0
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { throw Failure("waitpid for \(command): \(String(cString: strerror(errno)))") }
            if ContinuousClock.now >= deadline {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw Failure("\(command) did not finish within \(timeout); killed. Output:\n\(readOutput(outputPath))")
            }
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw error
            }
        }
        let output = readOutput(outputPath)
        let signal = status & 0x7f
        let code = (status >> 8) & 0xff
        guard signal == 0 else { throw Failure("\(command) died of signal \(signal):\n\(output)") }
        guard code == 0 else { throw Failure("\(command) exited \(code):\n\(output)") }
        return output
    }

    /// Runs `bash <script>`: a script need not be executable in a fresh checkout.
    public static func runScript(
        _ script: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(180)
    ) async throws -> String {
        try await run("/bin/bash", [script] + arguments, environment: environment, timeout: timeout)
    }

    private static func readOutput(_ path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+) is declared only under _GNU_SOURCE,
    /// which Swift's Glibc module does not define, so it is looked up at run time.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    private static func closeDescriptors(from lowest: Int32, in actions: inout posix_spawn_file_actions_t) throws {
        guard let addCloseFrom else { throw Failure("this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34+ needed)") }
        let result = addCloseFrom(&actions, lowest)
        guard result == 0 else { throw Failure("posix_spawn_file_actions_addclosefrom_np: \(String(cString: strerror(result)))") }
    }

    /// Calls `body` with a NULL-terminated C array of the strings (for `posix_spawn`).
    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}
