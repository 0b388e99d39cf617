package store

import "syscall"

// oNoatime opens a file without updating its access time (see load).
const oNoatime = syscall.O_NOATIME
