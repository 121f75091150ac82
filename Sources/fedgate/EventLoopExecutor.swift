import CExecutorHook
import NIOCore
import NIOPosix

/// Runs Swift Concurrency's global executor on NIO's event loops.
///
/// This is what `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()`
/// does, except for how the runtime's hook is found: NIO looks it up with `dlsym`, which finds
/// nothing when the Swift runtime is linked statically (`make release`; the static runtime does
/// not export the symbol), and the process would silently stay on Dispatch's pool. Here a C shim
/// refers to `swift_task_enqueueGlobal_hook` by name, so the linker resolves it in either link.
enum EventLoopExecutor {
    typealias EnqueueOriginal = @convention(thin) (UnownedJob) -> Void
    typealias EnqueueHook = @convention(thin) (UnownedJob, EnqueueOriginal) -> Void

    /// Installs the hook; returns false if another hook was installed first.
    /// Call once, on the main thread, before any task starts.
    @discardableResult
    static func install() -> Bool {
        // `any()` is sticky: a job enqueued from an event loop of the group stays on that loop,
        // so a handler's awaits do not change threads.
        //
        // The job runs as the generic executor's, which it is, not as the event loop's serial
        // executor's (what `EventLoop.enqueue(_:)` would do). Run as the event loop's, every hop
        // of a task to the generic executor (entering any nonisolated async function, returning
        // from an actor) is a switch of executor the runtime cannot make in place, so it enqueues
        // the task again: about 90 round trips through the event loop's queue per token grant.
        //
        // So no serial executor is current while a job runs, and what enqueues on "the current
        // executor" without passing through this hook goes to Swift's default (Dispatch) pool:
        // `Task.yield()` resumes the task on a Dispatch thread. Server code must not call it (to
        // let the loop's other jobs run, resume from `EventLoop.execute`, as
        // `Coalescer.letReadyTasksRun` does). `Task.sleep` goes to Dispatch's timers either way.
        let hook: EnqueueHook = { job, _ in
            MultiThreadedEventLoopGroup.singleton.any().execute {
                // An `UnownedJob` is the job's address.
                fedgate_run_job_on_generic_executor(unsafeBitCast(job, to: UnsafeMutableRawPointer.self))
            }
        }
        // The same assumption NIO makes: a thin function value is the function's address.
        return withUnsafePointer(to: hook) { pointer in
            pointer.withMemoryRebound(to: UnsafeRawPointer.self, capacity: 1) {
                fedgate_install_enqueue_global_hook($0.pointee) == 1
            }
        }
    }

    /// Whether a global-enqueue hook is installed (for the start-up log line; nothing in
    /// Fedgate but `install()` sets one).
    static var isInstalled: Bool { fedgate_enqueue_global_hook_is_set() == 1 }
}
