/** Volume paths as the readers take them: `\` or `/`, leading separator optional. */

export function splitPath(path: string): string[] {
  return path.split(/[\\/]+/).filter((part) => part !== '');
}

/** The canonical form for messages: `\EFI\Boot`. */
export function showPath(parts: readonly string[]): string {
  return `\\${parts.join('\\')}`;
}
