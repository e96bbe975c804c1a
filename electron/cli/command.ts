// The shape of one CLI command. Each command lives in commands/<name>.ts.
export interface CommandContext {
  args: string[];
  json: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(ctx: CommandContext): Promise<number>;
}
