/**
 * README.md read as the README test needs it: its shell blocks (```sh and ```bash) in
 * order, each with the heading it sits under, the "not run" note above it if any, and
 * its commands split into logical lines (a line ending in `\`, `|`, `&&` or `||`, or
 * inside an open quote, goes on on the next one) with the output the README shows
 * after a command.
 *
 * Shown output is a comment right after a command (README's convention):
 *   - JSON: a comment starting `# {` or `# [`, going on over the next comment lines
 *     until its brackets close; text after the JSON on its last line is a remark
 *     (`# {...,"offset":0}: the first record of the last minute`).
 *   - An HTTP status line: `# HTTP/1.1 204 No Content`, with the header lines
 *     (`# name: value`) right after it.
 * Any other comment is a remark for the reader and is not checked.
 */

export const NOT_RUN_NOTE = /^\*Not run by the README test: (.+)\*$/;

export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  heading: string;
  lang: string;
  text: string;
  /** The block's first line, trimmed: how the test names a block. */
  title: string;
  /** The reason in the `*Not run by the README test: ...*` line right above the block. */
  notRunReason: string | undefined;
}

/** Every fenced block of the given languages, in README order. */
export function readBlocks(readme: string, langs: string[] = ['sh', 'bash']): ReadmeBlock[] {
  const lines = readme.split('\n');
  const blocks: ReadmeBlock[] = [];
  let heading = '';
  for (let index = 0; index < lines.length; index++) {
    const fence = /^```(\S*)\s*$/.exec(lines[index]);
    if (fence === null) {
      if (lines[index].startsWith('#')) heading = lines[index].replace(/^#+\s*/, '');
      continue;
    }
    const start = index;
    let end = index + 1;
    while (end < lines.length && !lines[end].startsWith('```')) end++;
    if (end === lines.length) throw new Error(`README.md line ${start + 1}: a code block is not closed`);
    index = end;
    if (!langs.includes(fence[1])) continue;
    const text = lines.slice(start + 1, end).join('\n');
    let above = start - 1;
    while (above >= 0 && lines[above].trim() === '') above--;
    const note = above >= 0 ? NOT_RUN_NOTE.exec(lines[above].trim()) : null;
    blocks.push({ line: start + 1, heading, lang: fence[1], text, title: text.split('\n')[0].trim(), notRunReason: note?.[1] });
  }
  return blocks;
}

/** `*Not run by the README test: ...*` lines that are not right above a shell block. */
export function strayNotRunNotes(readme: string, blocks: ReadmeBlock[]): number[] {
  const noted = new Set(blocks.filter((block) => block.notRunReason !== undefined).map((block) => block.line));
  const lines = readme.split('\n');
  const stray: number[] = [];
  lines.forEach((line, index) => {
    if (!NOT_RUN_NOTE.test(line.trim())) return;
    let below = index + 1;
    while (below < lines.length && lines[below].trim() === '') below++;
    if (!noted.has(below + 1)) stray.push(index + 1);
  });
  return stray;
}

export type ShownOutput = { kind: 'json'; text: string } | { kind: 'http'; lines: string[] };

export interface Command {
  /** The command as written, its trailing comment removed (may span lines). */
  code: string;
  /** The trailing comment of its last line, without '#'. */
  comment: string;
  /** 1-based line in the block. */
  line: number;
  shown: ShownOutput | undefined;
}

interface LogicalLine {
  code: string;
  comment: string;
  line: number;
  isComment: boolean;
}

/** Where the code of one physical line ends: its comment's '#', or its length; and the quote still open after it. */
function scanLine(line: string, openQuote: string | undefined): { codeEnd: number; openQuote: string | undefined } {
  let quote = openQuote;
  for (let index = 0; index < line.length; index++) {
    const char = line[index];
    if (quote !== undefined) {
      if (char === '\\' && quote === '"') index++;
      else if (char === quote) quote = undefined;
    } else if (char === '\\') {
      index++;
    } else if (char === "'" || char === '"') {
      quote = char;
    } else if (char === '#' && (index === 0 || /\s/.test(line[index - 1]))) {
      return { codeEnd: index, openQuote: undefined };
    }
  }
  return { codeEnd: line.length, openQuote: quote };
}

function logicalLines(text: string): LogicalLine[] {
  const result: LogicalLine[] = [];
  let pending: { code: string[]; line: number } | undefined;
  let openQuote: string | undefined;
  text.split('\n').forEach((raw, index) => {
    if (pending === undefined && raw.trim() === '') return;
    if (pending === undefined && raw.trim().startsWith('#')) {
      result.push({ code: '', comment: raw.trim().slice(1), line: index + 1, isComment: true });
      return;
    }
    const scanned = scanLine(raw, openQuote);
    openQuote = scanned.openQuote;
    const code = raw.slice(0, scanned.codeEnd);
    pending ??= { code: [], line: index + 1 };
    pending.code.push(code.trimEnd());
    const goesOn = openQuote !== undefined || /(\\|\||&&)\s*$/.test(code);
    if (goesOn) return;
    result.push({ code: pending.code.join('\n'), comment: raw.slice(scanned.codeEnd).replace(/^#/, '').trim(), line: pending.line, isComment: false });
    pending = undefined;
  });
  if (pending !== undefined) throw new Error(`line ${pending.line}: the command does not end (open quote or continuation)`);
  return result;
}

/** The end of a JSON text that may be cut over several comment lines, or -1 while its brackets are open. */
function jsonEnd(text: string): number {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === '\\') index++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === '{' || char === '[') {
      depth++;
    } else if (char === '}' || char === ']') {
      depth--;
      if (depth === 0) return index + 1;
    }
  }
  return -1;
}

/** The block's commands, each with the output shown after it. */
export function commandsOf(block: ReadmeBlock): Command[] {
  const commands: Command[] = [];
  const lines = logicalLines(block.text);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    if (!line.isComment) {
      commands.push({ code: line.code, comment: line.comment, line: line.line, shown: undefined });
      continue;
    }
    const comment = line.comment.trim();
    const previous = commands.at(-1);
    if (/^[{[]/.test(comment)) {
      let json = comment;
      while (jsonEnd(json) === -1 && lines[index + 1]?.isComment === true) json += lines[++index].comment.trim();
      const end = jsonEnd(json);
      if (end === -1) throw new Error(`${where(block, line.line)}: the shown JSON does not close`);
      if (previous === undefined || previous.shown !== undefined) throw new Error(`${where(block, line.line)}: shown output without a command before it`);
      previous.shown = { kind: 'json', text: json.slice(0, end) };
    } else if (/^HTTP\/\S+ \d{3}/.test(comment)) {
      const shownLines = [comment];
      while (lines[index + 1]?.isComment === true && /^[\w-]+: /.test(lines[index + 1].comment.trim())) shownLines.push(lines[++index].comment.trim());
      if (previous === undefined || previous.shown !== undefined) throw new Error(`${where(block, line.line)}: shown output without a command before it`);
      previous.shown = { kind: 'http', lines: shownLines };
    }
  }
  return commands;
}

export function where(block: ReadmeBlock, lineInBlock?: number): string {
  return `README.md line ${block.line + (lineInBlock ?? 1)}`;
}
