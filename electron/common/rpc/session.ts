// A session is one client's conversation with a backend: frames in, frames
// out, events pushed. Electron main, `snapkeep serve` and the CLI pump frames
// between their client and a session; whether the session is served in
// process (local backend) or relayed to the root helper is the backend's
// business.
export interface Session {
  /** Handles one request frame; resolves to the response frame (null for notifications). */
  handleText(frame: string): Promise<string | null>;
  close(): void;
}

export interface Backend {
  readonly kind: 'helper' | 'local';
  /** `push` receives event frames for this session. */
  openSession(push: (frame: string) => void): Promise<Session>;
}
