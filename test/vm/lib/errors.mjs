// A problem with the harness's environment or inputs (missing tool, bad
// test header): reported as one clear line, not as a stack trace.
export class HarnessError extends Error {
	name = 'HarnessError';
}
