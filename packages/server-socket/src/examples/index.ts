import { startAirExample } from './air';
import { startTotalCrossExample } from './totalcross';
import type { ExampleOptions, RunningExample } from './types';
import { startXojoExample } from './xojo';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

export type { ExampleOptions, RunningExample } from './types';

/** The seeds' example servers, by the name `ics-ts-server --example` takes. */
export const EXAMPLES = {
  xojo: startXojoExample,
  totalcross: startTotalCrossExample,
  air: startAirExample,
} as const satisfies Record<string, (options: ExampleOptions) => Promise<RunningExample>>;

export type ExampleName = keyof typeof EXAMPLES;

export const EXAMPLE_NAMES = Object.keys(EXAMPLES) as ExampleName[];

/** Starts the example server `name`; rejects as its facade does when it cannot listen. */
export function startExample(name: ExampleName, options: ExampleOptions): Promise<RunningExample> {
  const start = EXAMPLES[name];
  if (!start) throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `no example server named ${JSON.stringify(name)} (${EXAMPLE_NAMES.join(', ')})`);
  return start(options);
}
