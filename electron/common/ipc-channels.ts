// The only IPC channels between the renderer (through the preload) and
// Electron main. The preload forwards exactly these; main rejects the rest.
export const IPC_RPC = 'snapkeep:rpc';
export const IPC_EVENT = 'snapkeep:event';

/** What the preload exposes as window.snapkeep. */
export interface PreloadApi {
  /** Sends one JSON-RPC request frame; resolves to the response frame. */
  request(frame: string): Promise<string | null>;
  /** Receives event frames; returns the function that stops listening. */
  onEvent(listener: (frame: string) => void): () => void;
}
