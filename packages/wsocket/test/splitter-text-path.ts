/** Which sink the line-splitter cases use: Buffers only, or the text path in this encoding. */
export const splitterTextPath: { encoding: 'latin1' | 'utf8' | undefined } = { encoding: undefined };
