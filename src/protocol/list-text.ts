/**
 * The text of a list file (an allow or deny list, the passkeys): one entry per
 * line; `#` starts a comment; blank lines are skipped; a line `entryOf` does
 * not accept is reported by its number only (never its text: it may be a
 * secret) and skipped, so one typo does not empty the list. Pure.
 */
export function parseListText(
  text: string,
  entryOf: (line: string) => string | undefined,
  what: string,
): { entries: Set<string>; problems: string[] } {
  const entries = new Set<string>();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/#.*$/, '').trim();
    if (line === '') continue;
    const entry = entryOf(line);
    if (entry !== undefined) entries.add(entry);
    else problems.push(`line ${i + 1}: not ${what}`);
  }
  return { entries, problems };
}
