export interface ExampleOptions {
  /** The address to listen on (an IP literal). */
  addr: string;
  /** The port; undefined: the seed's own (Xojo's client connects to 2002; AIR's field says 0). */
  port?: number;
  /** Where the example writes what the seed's list box or log field shows. */
  log: (line: string) => void;
}

export interface RunningExample {
  /** The port listened on (the real one when 0 was asked). */
  readonly port: number;
  /** Stops listening and closes the example's connections. */
  shutdown(): Promise<unknown>;
}
