// JSON-RPC 2.0 message shapes and error codes, shared by every transport
// (Unix socket to the helper, WebSocket in web mode, Electron IPC).
import { z } from 'zod';

import { AppError, ErrorCode, ErrorInfo } from '../contract/errors';

export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
export const RPC_INTERNAL_ERROR = -32603;
/** Application errors: `data` is an ErrorInfo. */
export const RPC_APP_ERROR = -32000;

const RequestId = z.union([z.string().max(64), z.number().int()]);

export const RpcRequest = z.object({
  jsonrpc: z.literal('2.0'),
  id: RequestId.optional(),
  method: z.string().min(1).max(64),
  params: z.unknown().optional(),
});
export type RpcRequest = z.infer<typeof RpcRequest>;

export const RpcErrorObject = z.object({
  code: z.number().int(),
  message: z.string(),
  data: z.unknown().optional(),
});

export const RpcResponse = z.union([
  z.object({ jsonrpc: z.literal('2.0'), id: RequestId.nullable(), result: z.unknown() }),
  z.object({ jsonrpc: z.literal('2.0'), id: RequestId.nullable(), error: RpcErrorObject }),
]);
export type RpcResponse = z.infer<typeof RpcResponse>;

/** A notification from server to client: an event. */
export const RpcNotification = z.object({
  jsonrpc: z.literal('2.0'),
  method: z.string(),
  params: z.unknown(),
});
export type RpcNotification = z.infer<typeof RpcNotification>;

/** Turns a JSON-RPC error object back into an AppError on the client side. */
export function appErrorFromRpc(err: z.infer<typeof RpcErrorObject>): AppError {
  const info = ErrorInfo.safeParse(err.data);
  if (info.success) return new AppError(info.data.code, info.data.message, info.data.details);
  const code: ErrorCode =
    err.code === RPC_INVALID_PARAMS || err.code === RPC_METHOD_NOT_FOUND ? 'INVALID_ARGUMENT' : 'INTERNAL';
  return new AppError(code, err.message, { rpcCode: err.code });
}
