#ifndef FEDGATE_EXECUTOR_HOOK_H
#define FEDGATE_EXECUTOR_HOOK_H

/// Installs `hook` as Swift Concurrency's global-enqueue hook (`swift_task_enqueueGlobal_hook`)
/// if none is installed yet; returns 1 when installed, 0 when another hook was already there.
///
/// The runtime's hook variable is referenced at link time, not found with `dlsym`, so this works
/// in a binary with the Swift runtime linked statically (where the symbol is not exported).
/// `hook` must be a Swift `@convention(thin)` function of type
/// `(UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void`.
int fedgate_install_enqueue_global_hook(const void *hook);

/// 1 if a global-enqueue hook is installed, else 0.
int fedgate_enqueue_global_hook_is_set(void);

/// Runs a job taken from the global-enqueue hook on the calling thread, as the global (generic)
/// executor, which is what the job was enqueued on: `swift_job_run(job, generic)`, as the
/// runtime's own global executors do. A job run this way can switch to an idle actor, and back,
/// without being enqueued again.
void fedgate_run_job_on_generic_executor(void *job);

#endif
