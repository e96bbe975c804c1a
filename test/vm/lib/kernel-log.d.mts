// Types of kernel-log.mjs for TypeScript callers (its unit test).
export const BAD_PATTERNS: Array<string | RegExp>;
export const BENIGN: RegExp[];
export function scanKernelLog(text: string, allow?: RegExp[]): string[];
export function hangReport(ioAtTimeout: string, kernelLog: string, max?: number): string[];
export function moduleIdleAtTimeout(ioAtTimeout: string): boolean;
