import ArgumentParser
import NIOCore
import NIOPosix

// NIO's event loops become Swift Concurrency's global executor, so a request's handler, its I/O
// and its awaits stay on one thread instead of hopping between NIO and the cooperative pool
// (12–14% of a refresh grant in the benchmarks' profile). Nothing in Fedgate blocks an executor
// thread: bcrypt, RSA key generation, libldap and libcurl run on threads of their own.
// This must happen on the main thread before any task starts, hence top-level code.
NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()

/// Runs ArgumentParser's async entry point (the generic constraint selects the async overload).
func runAsyncCommand<Command: AsyncParsableCommand>(_ command: Command.Type) async {
    await command.main(nil)
}

await runAsyncCommand(Fedgate.self)
