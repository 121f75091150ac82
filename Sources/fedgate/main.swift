import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

// Which executor runs Swift Concurrency's tasks: NIO's event loops, so a handler's awaits stay on
// the event-loop thread that read the request (no hop to Dispatch's cooperative pool and back).
// Measured on the 2-core bench machine (docs/benchmarks.md, server pinned to one core): refresh
// grants with ES256 about 17% faster than with Dispatch's pool, RS256 the same. (It used to make
// router-served `/keys` slower; discovery and `/keys` are now answered in the channel pipeline.)
// Nothing in Fedgate blocks an executor thread: bcrypt, RSA key generation, libldap, libcurl and
// SQLite run on threads of their own. FEDGATE_EXECUTOR=dispatch keeps Swift's default pool.
// Must run on the main thread before any task starts, hence top-level code.
if ProcessInfo.processInfo.environment["FEDGATE_EXECUTOR"] != "dispatch" {
    EventLoopExecutor.install()
}

// One event loop, and one thread of NIO's blocking pool (SQLite's statements), per CPU this
// process may run on. NIO sizes both by the machine's cores, so under `taskset`, a cpuset or a
// container pinned to fewer CPUs, several threads would share one core for nothing but extra
// context switches. Measured on the bench machine pinned to one core: one loop and two served
// /keys equally fast; one pool thread instead of two gave 1–17% more ES256 refresh grants in
// four alternating pairs (docs/benchmarks.md). A CPU quota (Kubernetes limits) keeps the full
// affinity mask, so it changes nothing there.
if let allowed = allowedCPUCount(), allowed > 0, allowed < System.coreCount {
    NIOSingletons.groupLoopCountSuggestion = allowed
    NIOSingletons.blockingPoolThreadCountSuggestion = allowed
}

/// The number of CPUs in this process's affinity mask (Linux: `Cpus_allowed` in
/// /proc/self/status, a comma-grouped hex mask), or nil where unknown.
func allowedCPUCount() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) else { return nil }
    var count = 0
    for character in line.dropFirst("Cpus_allowed:".count) where character != "," && character != " " && character != "\t" {
        guard let nibble = character.hexDigitValue else { return nil }
        count += nibble.nonzeroBitCount
    }
    return count
}

/// Runs ArgumentParser's async entry point (the generic constraint selects the async overload).
func runAsyncCommand<Command: AsyncParsableCommand>(_ command: Command.Type) async {
    await command.main(nil)
}

await runAsyncCommand(Fedgate.self)
