// Server side of the contract: validates every request against the method's
// schema, runs the handler, validates the result, and maps failures to
// JSON-RPC errors. Transports only move strings; all checking happens here.
import { z } from 'zod';

import { AppError, isAppError } from '../contract/errors';
import { isMethodName, methods, type MethodName, type Methods, type Result } from '../contract/methods';
import {
  RPC_APP_ERROR,
  RPC_INTERNAL_ERROR,
  RPC_INVALID_PARAMS,
  RPC_INVALID_REQUEST,
  RPC_METHOD_NOT_FOUND,
  RPC_PARSE_ERROR,
  RpcRequest,
  type RpcResponse,
} from './jsonrpc';

export type Handler<M extends MethodName, Ctx> = (
  params: z.output<Methods[M]['params']>,
  ctx: Ctx,
) => Promise<Result<M>> | Result<M>;

/** A server implements some methods; the rest answer "method not found". */
export type Handlers<Ctx> = { [M in MethodName]?: Handler<M, Ctx> };

/** Short, human-readable summary of validation issues. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : 'params'}: ${i.message}`)
    .join('; ');
}

export interface DispatcherOptions {
  /** Called for failures that are not AppErrors (bugs): log them. */
  onInternalError?: (method: string, error: unknown) => void;
}

export class Dispatcher<Ctx> {
  constructor(
    private readonly handlers: Handlers<Ctx>,
    private readonly options: DispatcherOptions = {},
  ) {}

  /** Handles one raw frame; returns the response frame, or null for notifications. */
  async handleText(text: string, ctx: Ctx): Promise<string | null> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return JSON.stringify(this.error(null, RPC_PARSE_ERROR, 'parse error: not JSON'));
    }
    const response = await this.handle(parsed, ctx);
    return response === null ? null : JSON.stringify(response);
  }

  async handle(message: unknown, ctx: Ctx): Promise<RpcResponse | null> {
    const req = RpcRequest.safeParse(message);
    if (!req.success) return this.error(null, RPC_INVALID_REQUEST, 'invalid request: ' + describeIssues(req.error));
    const { id, method } = req.data;
    const reply = (r: RpcResponse): RpcResponse | null => (id === undefined ? null : r);

    if (!isMethodName(method)) return reply(this.error(id ?? null, RPC_METHOD_NOT_FOUND, `unknown method "${method}"`));
    const handler = this.handlers[method] as Handler<MethodName, Ctx> | undefined;
    if (!handler) return reply(this.error(id ?? null, RPC_METHOD_NOT_FOUND, `method "${method}" is not served here`));

    const spec = methods[method];
    const params = spec.params.safeParse(req.data.params ?? {});
    if (!params.success) {
      const info = new AppError('INVALID_ARGUMENT', `${method}: ${describeIssues(params.error)}`).toInfo();
      return reply(this.error(id ?? null, RPC_INVALID_PARAMS, info.message, info));
    }
    try {
      const result = await handler(params.data as never, ctx);
      // The result is checked too: a handler that breaks the contract is a
      // bug here, not a confusing failure in the renderer later.
      const checked = spec.result.safeParse(result);
      if (!checked.success) throw new Error(`${method} returned a bad result: ${describeIssues(checked.error)}`);
      return reply({ jsonrpc: '2.0', id: id ?? null, result: checked.data });
    } catch (e) {
      if (isAppError(e)) return reply(this.error(id ?? null, RPC_APP_ERROR, e.message, e.toInfo()));
      this.options.onInternalError?.(method, e);
      const info = new AppError('INTERNAL', `${method} failed: ${e instanceof Error ? e.message : String(e)}`).toInfo();
      return reply(this.error(id ?? null, RPC_INTERNAL_ERROR, info.message, info));
    }
  }

  private error(id: string | number | null, code: number, message: string, data?: unknown): RpcResponse {
    return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
  }
}
