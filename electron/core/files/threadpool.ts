// Imported first by the processes that serve restore points (the CLI, so
// `snapkeep serve`; Electron main; the helper): a file read from a mounted
// restore point waits in libuv's thread pool until this process's own NBD
// server answers it with an engine read, which needs a thread of the same
// pool. With the default 4 threads, four such reads at once would wait for
// each other forever. The pool is created on first use, so this must run
// before anything else touches it.
const wanted = 16;
if (!process.env['UV_THREADPOOL_SIZE'] || Number(process.env['UV_THREADPOOL_SIZE']) < wanted) process.env['UV_THREADPOOL_SIZE'] = String(wanted);
export {};
