#include "executor_hook.h"
#include <stddef.h>

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
