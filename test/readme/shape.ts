/**
 * The shape check of an output the README shows. How the README test reads "...":
 *   - as a value (`"timestamp":...`, `"value":{...}`): any value there (`{...}`: any object);
 *   - as an entry of an object (`{...,"offset":0}`, `"keyId":"x",...,"key":...`): any
 *     further fields; an object shown without one has exactly the fields shown;
 *   - as the last element of an array (`[{...},...]`): any further elements; an array
 *     shown without one has exactly the elements shown;
 *   - inside a string (`"rk_Orq9MLrlM2Dh_..."`): any text there.
 * Every other literal is compared as shown (offsets, counts, partition lists, names),
 * except at the example paths the test lists: ids and values a node makes up (member
 * ids, key ids, a cluster's id and elected leaders). There only the type is checked,
 * and a shown string that differs from the real one is remembered as an example:
 * later blocks get the real value in its place (`M=consumer-3Jw9...` is the member id
 * the join really answered), as a reader copies it from the answer.
 *
 * HTTP output (`# HTTP/1.1 204 No Content` then `# name: value` lines): each shown
 * line must be a line of the output, in order (header names in any case).
 */

type Pattern =
  | { type: 'any' }
  | { type: 'object'; entries: Array<[string, Pattern]>; hasRest: boolean }
  | { type: 'array'; items: Pattern[]; hasRest: boolean }
  | { type: 'string'; value: string }
  | { type: 'literal'; value: number | boolean | null };

const ELLIPSIS = '...';

class PatternParser {
  private index = 0;

  constructor(private readonly text: string) {}

  parse(): Pattern {
    const pattern = this.value();
    this.skipSpace();
    if (this.index !== this.text.length) this.fail('text after the value');
    return pattern;
  }

  private fail(what: string): never {
    throw new Error(`shown output ${JSON.stringify(this.text)}: ${what} at character ${this.index}`);
  }

  private skipSpace(): void {
    while (/\s/.test(this.text[this.index] ?? '')) this.index++;
  }

  private isEllipsis(): boolean {
    this.skipSpace();
    return this.text.startsWith(ELLIPSIS, this.index);
  }

  private expect(char: string): void {
    this.skipSpace();
    if (this.text[this.index] !== char) this.fail(`expected '${char}'`);
    this.index++;
  }

  private value(): Pattern {
    if (this.isEllipsis()) {
      this.index += ELLIPSIS.length;
      return { type: 'any' };
    }
    const char = this.text[this.index];
    if (char === '{') return this.object();
    if (char === '[') return this.array();
    if (char === '"') return { type: 'string', value: this.string() };
    const literal = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.index));
    if (literal === null) this.fail('expected a value');
    this.index += literal[0].length;
    return { type: 'literal', value: JSON.parse(literal[0]) as number | boolean | null };
  }

  private string(): string {
    const start = this.index;
    this.index++;
    while (this.index < this.text.length && this.text[this.index] !== '"') this.index += this.text[this.index] === '\\' ? 2 : 1;
    if (this.index >= this.text.length) this.fail('the string does not end');
    this.index++;
    return JSON.parse(this.text.slice(start, this.index)) as string;
  }

  /** `{` or `[` already seen: the comma-separated items up to `close`, '...' items counted as rest. */
  private items(close: string, item: () => void): boolean {
    this.index++;
    let hasRest = false;
    this.skipSpace();
    if (this.text[this.index] === close) {
      this.index++;
      return hasRest;
    }
    for (;;) {
      if (this.isEllipsis()) {
        this.index += ELLIPSIS.length;
        hasRest = true;
      } else {
        if (hasRest && close === ']') this.fail("'...' in an array stands for its last elements only");
        item();
      }
      this.skipSpace();
      if (this.text[this.index] === close) break;
      this.expect(',');
    }
    this.index++;
    return hasRest;
  }

  private object(): Pattern {
    const entries: Array<[string, Pattern]> = [];
    const hasRest = this.items('}', () => {
      this.skipSpace();
      if (this.text[this.index] !== '"') this.fail('expected a field name');
      const key = this.string();
      this.expect(':');
      entries.push([key, this.value()]);
    });
    return { type: 'object', entries, hasRest };
  }

  private array(): Pattern {
    const items: Pattern[] = [];
    const hasRest = this.items(']', () => {
      items.push(this.value());
    });
    return { type: 'array', items, hasRest };
  }
}

export interface ShapeResult {
  problems: string[];
  /** Example strings shown (ids a node makes up) and the real values in their place. */
  examples: Map<string, string>;
}

interface MatchContext extends ShapeResult {
  isExample: (path: string) => boolean;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

function replaceExamples(text: string, examples: Map<string, string>): string {
  let result = text;
  for (const [shown, real] of examples) result = result.split(shown).join(real);
  return result;
}

function wildcardMatches(shown: string, actual: string): boolean {
  const pattern = shown.split(ELLIPSIS).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*');
  return new RegExp(`^${pattern}$`).test(actual);
}

/** First pass: the example values, so a wildcard string can use one shown before it (`"rk_<keyId>_..."`). */
function collectExamples(pattern: Pattern, actual: unknown, path: string, context: MatchContext): void {
  if (pattern.type === 'object' && typeOf(actual) === 'object') {
    const object = actual as Record<string, unknown>;
    for (const [key, value] of pattern.entries) if (key in object) collectExamples(value, object[key], `${path}.${key}`, context);
  } else if (pattern.type === 'array' && Array.isArray(actual)) {
    pattern.items.forEach((item, index) => collectExamples(item, actual[index], `${path}[${index}]`, context));
  } else if (pattern.type === 'string' && typeof actual === 'string' && context.isExample(path) && pattern.value !== actual && !pattern.value.includes(ELLIPSIS)) {
    context.examples.set(pattern.value, actual);
  }
}

function matchPattern(pattern: Pattern, actual: unknown, path: string, context: MatchContext): void {
  const problem = (what: string): void => {
    context.problems.push(`${path}: ${what}`);
  };
  if (pattern.type !== 'any' && context.isExample(path)) {
    const shownType = pattern.type === 'literal' ? typeOf(pattern.value) : pattern.type;
    if (typeOf(actual) !== shownType) problem(`expected a ${shownType}, got ${JSON.stringify(actual)}`);
    return;
  }
  switch (pattern.type) {
    case 'any':
      return;
    case 'object': {
      if (typeOf(actual) !== 'object') return problem(`expected an object, got ${JSON.stringify(actual)}`);
      const object = actual as Record<string, unknown>;
      for (const [key, value] of pattern.entries) {
        if (!(key in object)) problem(`field "${key}" is missing`);
        else matchPattern(value, object[key], `${path}.${key}`, context);
      }
      const shownKeys = new Set(pattern.entries.map(([key]) => key));
      const extra = Object.keys(object).filter((key) => !shownKeys.has(key));
      if (!pattern.hasRest && extra.length > 0) problem(`fields not shown (and no "..."): ${extra.join(', ')}`);
      return;
    }
    case 'array': {
      if (!Array.isArray(actual)) return problem(`expected an array, got ${JSON.stringify(actual)}`);
      if (actual.length < pattern.items.length || (!pattern.hasRest && actual.length !== pattern.items.length)) {
        problem(`expected ${pattern.items.length}${pattern.hasRest ? ' or more' : ''} elements, got ${actual.length}: ${JSON.stringify(actual).slice(0, 300)}`);
      }
      pattern.items.forEach((item, index) => {
        if (index < actual.length) matchPattern(item, actual[index], `${path}[${index}]`, context);
      });
      return;
    }
    case 'string': {
      if (typeof actual !== 'string') return problem(`expected a string, got ${JSON.stringify(actual)}`);
      const shown = replaceExamples(pattern.value, context.examples);
      if (shown.includes(ELLIPSIS) ? !wildcardMatches(shown, actual) : shown !== actual) problem(`shown ${JSON.stringify(shown)}, got ${JSON.stringify(actual)}`);
      return;
    }
    case 'literal': {
      if (actual !== pattern.value) problem(`shown ${JSON.stringify(pattern.value)}, got ${JSON.stringify(actual)}`);
    }
  }
}

/** Checks a command's output (its whole stdout, trimmed) against the JSON the README shows. */
export function checkJsonShape(shown: string, output: string, isExample: (path: string) => boolean, known: Map<string, string>): ShapeResult {
  const pattern = new PatternParser(shown).parse();
  let actual: unknown;
  try {
    actual = JSON.parse(output);
  } catch {
    return { problems: [`the output is not one JSON value: ${JSON.stringify(output.slice(0, 500))}`], examples: new Map() };
  }
  const context: MatchContext = { problems: [], examples: new Map(), isExample };
  collectExamples(pattern, actual, '$', context);
  const all: MatchContext = { ...context, examples: new Map([...known, ...context.examples]) };
  matchPattern(pattern, actual, '$', all);
  return { problems: all.problems, examples: context.examples };
}

/** Checks HTTP output (`curl -si ...`): every shown line is an output line, in order. */
export function checkHttpLines(shown: string[], output: string): string[] {
  const lines = output.split('\n').map((line) => line.replace(/\r$/, '').trim());
  const normalise = (line: string): string => line.replace(/^([\w-]+):/, (name) => name.toLowerCase());
  let from = 0;
  for (const shownLine of shown) {
    const found = lines.findIndex((line, index) => index >= from && (shownLine.includes(ELLIPSIS) ? wildcardMatches(normalise(shownLine), normalise(line)) : normalise(line) === normalise(shownLine)));
    if (found === -1) return [`shown line ${JSON.stringify(shownLine)} is not in the output (after the lines before it): ${JSON.stringify(output.slice(0, 800))}`];
    from = found + 1;
  }
  return [];
}
