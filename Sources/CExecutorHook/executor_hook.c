#include "executor_hook.h"
#include <stddef.h>
#include <stdint.h>

// Defined by the Swift Concurrency runtime (libswift_Concurrency): a function pointer that, when
// set, receives every job enqueued on the global executor.
extern void *swift_task_enqueueGlobal_hook;

int fedgate_install_enqueue_global_hook(const void *hook) {
    void *expected = NULL;
    return __atomic_compare_exchange_n(&swift_task_enqueueGlobal_hook, &expected, (void *)hook, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) ? 1 : 0;
}

int fedgate_enqueue_global_hook_is_set(void) {
    return __atomic_load_n(&swift_task_enqueueGlobal_hook, __ATOMIC_SEQ_CST) != NULL ? 1 : 0;
}

// Defined by the Swift Concurrency runtime: runs `job` on the current thread as if `executor` were
// running it. `SerialExecutorRef` is two words (identity, implementation), passed in two registers
// under the Swift calling convention; the generic (global) executor is {NULL, 0}.
extern void swift_job_run(void *job, void *identity, uintptr_t implementation) __attribute__((swiftcall));

void fedgate_run_job_on_generic_executor(void *job) {
    swift_job_run(job, NULL, 0);
}
